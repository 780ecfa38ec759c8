/**
 * The Bio handler that runs ZooKeeper on the bio thread: one ZkSession, one task at a time, each call awaited
 * ("blocking-style"). Watch and session events go into the ack stream through ctx.emit, in the order the
 * session reports them, so the main side sees events and results in ZooKeeper's order. Task codes: commands.ts.
 */
import type { BioHandler, BioHandlerContext } from '../bio/protocol.js';
import { type BioRecord, newRecord } from '../ring/codec.js';
import { aclsForAuth } from './acl.js';
import { Cmd, type SessionEvent } from './commands.js';
import { ZBADARGUMENTS, ZCONNECTIONLOSS, ZkError, ZNONODE, zkErrorCode } from './errors.js';
import { registerOwnNode } from './registration.js';
import { type ZkEvent, ZkSession } from './session.js';

/** What ZkClient hands the handler (structured-cloned into the worker). */
export interface ZkHandlerOptions {
  servers: string;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  callTimeoutMs: number;
  /** "user:password" for digest auth, or null. */
  auth: string | null;
}

const SESSION_EVENTS: Record<string, SessionEvent> = {
  connected: 'CONNECTED',
  connectedReadOnly: 'CONNECTED',
  disconnected: 'DISCONNECTED',
  lost: 'LOST',
  expired: 'EXPIRED',
  authFailed: 'AUTH_FAILED',
  closed: 'CLOSED',
};
const WATCH_EVENTS = {
  created: Cmd.EV_CREATED,
  deleted: Cmd.EV_DELETED,
  dataChanged: Cmd.EV_DATA_CHANGED,
  childrenChanged: Cmd.EV_CHILDREN_CHANGED,
} as const;
/** How often a connect that waits for ZooKeeper checks whether the Bio is stopping. */
const STOP_POLL_MS = 50;

export default function createZkHandler(ctx: BioHandlerContext): BioHandler {
  const opts = ctx.options as ZkHandlerOptions;
  const auth = opts.auth ?? undefined;
  const acl = aclsForAuth(auth);
  let session: ZkSession | null = null;

  const emit = (cmd: number, path: string, value = '', result = '', errName = '', error = 0) => {
    const r = newRecord(cmd, path, value);
    r.result = result;
    r.errName = errName;
    r.error = error;
    ctx.emit(r);
  };

  const onEvent = (e: ZkEvent) => {
    if (e.type === 'watch') emit(WATCH_EVENTS[e.kind], e.path);
    else if (e.type === 'state') emit(Cmd.EV_SESSION, '', SESSION_EVENTS[e.state], e.sessionId);
    else {
      const retry = e.retryInMs === null ? 'giving up' : `retry in ${e.retryInMs} ms`;
      emit(Cmd.EV_SESSION, '', 'CONNECTING', '', `attempt ${e.attempt} failed (${e.message}); ${retry}`);
    }
  };

  const live = (): ZkSession => {
    if (!session) throw new ZkError(ZCONNECTIONLOSS, 'no ZooKeeper session');
    return session;
  };

  async function connect(task: BioRecord): Promise<void> {
    if (session && !session.dead && session.state !== 'idle') {
      task.result = session.sessionId;
      return;
    }
    await session?.close();
    const s = new ZkSession({
      connectString: opts.servers,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      callTimeoutMs: opts.callTimeoutMs,
      auth,
      onEvent,
      logger: ctx.logger,
      connect: { attemptTimeoutMs: opts.connectTimeoutMs, deadlineMs: Number.POSITIVE_INFINITY },
    });
    session = s;
    // Retries until connected; stop() must still get through, so watch the stop word meanwhile.
    const poll = setInterval(() => {
      if (ctx.isStopping()) void s.close();
    }, STOP_POLL_MS);
    try {
      await s.connect();
    } finally {
      clearInterval(poll);
    }
    task.result = s.sessionId;
  }

  /** REGISTER: the own-node reconciliation (registration.ts); the ack names what it had to put right. */
  async function register(task: BioRecord): Promise<void> {
    const [payloadFolder, payload, knownPath, stale] = task.values;
    const fields = JSON.parse(task.value) as Record<string, unknown>;
    const staleSessions = stale ? stale.split(',') : [];
    const spec = { prefix: task.path, fields, payloadFolder, payload, knownPath, staleSessions };
    const { path, repairs } = await registerOwnNode(live(), acl, spec);
    task.result = path;
    task.value = '';
    task.values = repairs;
  }

  async function list(task: BioRecord): Promise<void> {
    const s = live();
    // A folder that is missing gets an exists watch, so its creation is seen (kimserver never saw it).
    // If it appears between the two calls, exists finds it and the listing is tried again.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        task.values = (await s.getChildren(task.path, true)).children;
        return;
      } catch (err) {
        if (zkErrorCode(err).code !== ZNONODE) throw err;
        if ((await s.exists(task.path, true)) === null) throw err;
      }
    }
  }

  /** Reads every named child with a data watch, all requests in flight at once, and emits each in order. */
  async function getMany(task: BioRecord): Promise<void> {
    const s = live();
    const reads = task.values.map((name) => {
      const path = `${task.path}/${name}`;
      return s.get(path, true).then(
        (r) => ({ path, data: r.data, code: 0, name: '' }),
        (err: unknown) => ({ path, data: '', ...zkErrorCode(err) }),
      );
    });
    for (const read of reads) {
      const r = await read;
      emit(Cmd.EV_NODE_DATA, r.path, r.data, '', r.name, r.code);
    }
    task.values = [];
  }

  return {
    async processCmd(task) {
      try {
        switch (task.cmd) {
          case Cmd.CONNECT:
            return await connect(task);
          case Cmd.REGISTER:
            return await register(task);
          case Cmd.LIST:
            return await list(task);
          case Cmd.GET_MANY:
            return await getMany(task);
          case Cmd.SET_DATA:
            await live().set(task.path, task.value);
            return;
          default:
            throw new ZkError(ZBADARGUMENTS, `unknown task command ${task.cmd}`);
        }
      } catch (err) {
        const { code, name } = zkErrorCode(err);
        task.error = code;
        task.errName = name;
        task.result = (err as Error).message ?? String(err);
      }
    },
    async close() {
      await session?.close();
      session = null;
    },
  };
}
