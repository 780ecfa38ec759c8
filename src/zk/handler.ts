/**
 * The Bio handler that runs ZooKeeper on the bio thread: one ZkSession, one task at a time, each awaited in turn
 * ("blocking-style"). Task codes: commands.ts.
 *
 * The flow as built:
 * - tasks from the main side: CONNECT, REGISTER, SUBSCRIBE (a type folder: follow it and resync it),
 *   SET_DATA (the payload report); one ack each;
 * - watch events on subscribed folders and their children (one persistent recursive watch per folder, or
 *   one-shot watches on servers before 3.6) go to the subscriptions recipe (subscriptions.ts), which has its
 *   own FIFO job queue: it lists, diffs, reads with pipelined calls (a window of up to 512 in flight,
 *   narrower for large data), parses, checks, computes ring points, and emits finished node changes
 *   (EV_NODE_SET / DEL / BAD) into the ack stream; a SUBSCRIBE task waits for its resync job, so its changes
 *   precede its ack;
 * - the session hands node-zookeeper-client the socket's bytes one whole frame at a time (frames.ts), and
 *   decodes the replies to its reads itself (nzk-internals' readData);
 * - session events, and watch events the recipe does not own or that concern the own node (REGISTER leaves a
 *   data watch on it), go into the ack stream at once, as the session reports them.
 * Everything reaches the main side through ctx.emit and the task acks, one FIFO stream, in that order.
 */
import type { BioHandler, BioHandlerContext } from '../bio/protocol.js';
import { type BioRecord, newRecord } from '../ring/codec.js';
import { aclsForAuth } from './acl.js';
import { Cmd, type SessionEvent } from './commands.js';
import { ZBADARGUMENTS, ZCONNECTIONLOSS, ZkError, zkErrorCode } from './errors.js';
import { registerOwnNode } from './registration.js';
import { isSequentialChild, type ZkEvent, ZkSession } from './session.js';
import { Subscriptions } from './subscriptions.js';

/** What ZkClient hands the handler (structured-cloned into the worker). */
export interface ZkHandlerOptions {
  servers: string;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  callTimeoutMs: number;
  /** "user:password" for digest auth, or null. */
  auth: string | null;
  /** The table's points per ring member: the subscriptions compute ring points with it. */
  vnodeCount: number;
  /** Peer data larger than this is bad data. */
  maxNodeBytes: number;
  /** Ring points larger than this are left to the main side (a record must fit in half the ack ring). */
  maxPointBytes: number;
  /** Follow subscribed folders with persistent recursive watches where the server has them. */
  persistentWatches: boolean;
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
  /**
   * The own node's name prefix, from the first REGISTER: events of `prefix + sequence` go to the main side's
   * registration even when a subscription follows the folder too. Set before the watch is armed, so that no
   * event of it can come first.
   */
  let ownPrefix: string | null = null;
  const isOwn = (path: string) => ownPrefix !== null && isSequentialChild(path, ownPrefix);

  const emit = (cmd: number, path: string, value = '', result = '', errName = '', error = 0) => {
    const r = newRecord(cmd, path, value);
    r.result = result;
    r.errName = errName;
    r.error = error;
    ctx.emit(r);
  };

  const onEvent = (e: ZkEvent) => {
    if (e.type === 'watch') {
      if (!subscriptions.onWatch(e.kind, e.path) || isOwn(e.path)) emit(WATCH_EVENTS[e.kind], e.path);
    } else if (e.type === 'state') emit(Cmd.EV_SESSION, '', SESSION_EVENTS[e.state], e.sessionId);
    else {
      const retry = e.retryInMs === null ? 'giving up' : `retry in ${e.retryInMs} ms`;
      emit(Cmd.EV_SESSION, '', 'CONNECTING', '', `attempt ${e.attempt} failed (${e.message}); ${retry}`);
    }
  };

  const live = (): ZkSession => {
    if (!session) throw new ZkError(ZCONNECTIONLOSS, 'no ZooKeeper session');
    return session;
  };

  const subscriptions = new Subscriptions({
    session: live,
    emit: (r) => ctx.emit(r),
    isStopping: () => ctx.isStopping(),
    vnodeCount: opts.vnodeCount,
    maxNodeBytes: opts.maxNodeBytes,
    maxPointBytes: opts.maxPointBytes,
    persistentWatches: opts.persistentWatches,
  });

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
    ownPrefix = task.path;
    const spec = { prefix: task.path, fields, payloadFolder, payload, knownPath, staleSessions };
    const { path, repairs } = await registerOwnNode(live(), acl, spec);
    task.result = path;
    task.value = '';
    task.values = repairs;
  }

  return {
    async processCmd(task) {
      try {
        switch (task.cmd) {
          case Cmd.CONNECT:
            return await connect(task);
          case Cmd.REGISTER:
            return await register(task);
          case Cmd.SUBSCRIBE:
            task.values = await subscriptions.subscribe(task.value, task.path);
            return;
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
      subscriptions.close();
      await session?.close();
      session = null;
    },
  };
}
