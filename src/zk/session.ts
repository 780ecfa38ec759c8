// One ZooKeeper session over node-zookeeper-client, "blocking-style": every call is a Promise that settles
// with a result or a ZkError carrying a stable code, within a per-call timeout. The Bio worker awaits one call
// per task. Nothing here depends on being in a worker thread.
//
// A ZkSession is one ZooKeeper session, start to end. After `expired` (or `authFailed`, or close()) it is dead:
// calls reject, and the owner closes it and constructs a new ZkSession. There is no reopen(): a new session
// means new ephemeral nodes and new watches, and a new object makes that explicit.
//
// Once connected, the session judges the link by the server's silence (liveness.ts): it pings, drops a silent
// connection so the library reconnects (disconnected), and reports `lost` after a whole session timeout.
import type { ACL, Client, Event, Stat, State } from 'node-zookeeper-client';
import { SILENT_LOGGER } from '../bio/bio_logger.js';
import type { BioLogger } from '../bio/protocol.js';
import { aclsForAuth, type ZkAcl } from './acl.js';
import {
  toZkError,
  ZAPIERROR,
  ZAUTHFAILED,
  ZCALLTIMEOUT,
  ZCLOSING,
  ZCONNECTIONLOSS,
  ZkError,
  ZNODEEXISTS,
  ZSESSIONEXPIRED,
} from './errors.js';
import { LivenessWatchdog } from './liveness.js';
import { zookeeper } from './nzk.js';
import {
  addPersistentRecursiveWatch,
  assertLibraryShape,
  closeHard,
  dropConnection,
  hasOpenSocket,
  instrumentClient,
  linkUp,
  onEveryNotification,
  readData,
  sendPing,
  serverCount,
} from './nzk-internals.js';

/** ZooKeeper's create flags. */
export const CreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
} as const;
export type CreateModeValue = (typeof CreateMode)[keyof typeof CreateMode];

export type ZkData = string | Uint8Array | null | undefined;

/** A node's stat as plain data: zxids and the owner session as 16-digit hex, times as epoch ms. */
export interface ZkStat {
  czxid: string;
  mzxid: string;
  pzxid: string;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  /** The owning session's id for an ephemeral node, "0000000000000000" otherwise. */
  ephemeralOwner: string;
  dataLength: number;
  numChildren: number;
}

export type ZkWatchKind = 'created' | 'deleted' | 'dataChanged' | 'childrenChanged';
export type ZkSessionEventState =
  | 'connected'
  | 'connectedReadOnly'
  | 'disconnected'
  /**
   * No word from the server for a whole session timeout: the session is expired or about to be, so nothing
   * it holds may be claimed. The library keeps reconnecting: `connected` if the session still lived after all,
   * `expired` if not.
   */
  | 'lost'
  | 'expired'
  | 'authFailed'
  | 'closed';
export type ZkSessionState = 'idle' | 'connecting' | ZkSessionEventState;

/** Everything the session reports, through one callback, in the order it happened. */
export type ZkEvent =
  /** A one-shot watch fired. Re-read with a watch to re-arm it. */
  | { type: 'watch'; kind: ZkWatchKind; path: string }
  /** The session's state changed. `expired` and `authFailed` are final: make a new ZkSession. */
  | { type: 'state'; state: ZkSessionEventState; sessionId: string }
  /** connect() tried and failed; `retryInMs` is null when it gives up. */
  | {
      type: 'connectFailed';
      attempt: number;
      code: number;
      name: string;
      message: string;
      retryInMs: number | null;
    };

export interface ZkConnectOptions {
  /**
   * One attempt's bound: the library must reach a server and finish the handshake in this time. Default 3000.
   * Each server gets an equal share of it (and of 2/3 of the session timeout, if less), here and on every
   * reconnect: a server that accepts and never answers is left for the next in time.
   */
  attemptTimeoutMs?: number;
  /** connect() gives up (rejects with ZCONNECTIONLOSS) after this long; Infinity retries until close(). Default 30000. */
  deadlineMs?: number;
  /**
   * Backoff before attempt n+1: min(max, base * 2^(n-1)), jittered to 50-100% of that. Defaults 100 and 500:
   * a refused connect costs nothing, and a node must register within a second of ZooKeeper starting to serve.
   */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export interface ZkSessionOptions {
  /** "host:port,host:port[/chroot]". */
  connectString: string;
  /** Requested session timeout; the server clamps it to [2, 20] ticks. Default 10000 (kimserver's). */
  sessionTimeoutMs?: number;
  /** Bound on every call. A timed-out call's outcome is unknown, like a connection loss. Default 5000. */
  callTimeoutMs?: number;
  /** "user:password" for the digest scheme, sent before any call. Never logged. */
  auth?: string;
  /**
   * Watch, state and connect-retry events, in the order the server sent them. Called synchronously from the
   * socket's data handler, so a watch event that arrives in the same read as a call's reply is delivered before
   * the caller's `await` resumes: treat watch events as "read again", never as ordered after a result.
   * It must not throw (a throw is caught and logged).
   */
  onEvent?: (event: ZkEvent) => void;
  logger?: BioLogger;
  connect?: ZkConnectOptions;
  /** The library's pause (random up to this) before it retries the servers after losing a connection. Default 200. */
  spinDelayMs?: number;
  /** close() waits this long for the server to end the session, then destroys the socket. Default 1000. */
  closeTimeoutMs?: number;
}

export interface ProtectedCreateResult {
  /** The own node's full path, sequence suffix included. */
  path: string;
  /** `${payload.parentPath}/${last name of path}`, when a payload node was asked for. */
  payloadPath?: string;
}

const NO_OWNER = '0000000000000000';
/** True when `name` is `prefix` plus ZooKeeper's 10-digit sequential suffix. */
export function isSequentialChild(name: string, prefix: string): boolean {
  return name.startsWith(prefix) && /^\d{10}$/.test(name.slice(prefix.length));
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function toBuffer(data: ZkData): Buffer {
  // null/undefined become an empty node: setData(null) throws inside the library (#94).
  if (data === null || data === undefined) return Buffer.alloc(0);
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
}

function toLibAcls(acl: readonly ZkAcl[]): ACL[] {
  return acl.map((a) => new zookeeper.ACL(a.perms, new zookeeper.Id(a.scheme, a.id)));
}

function toStat(s: Stat): ZkStat {
  return {
    czxid: s.czxid.toString('hex'),
    mzxid: s.mzxid.toString('hex'),
    pzxid: s.pzxid.toString('hex'),
    ctime: Number(s.ctime.readBigInt64BE()),
    mtime: Number(s.mtime.readBigInt64BE()),
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: s.ephemeralOwner.toString('hex'),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
  };
}

const WATCH_KINDS: Record<number, ZkWatchKind> = {
  [zookeeper.Event.NODE_CREATED]: 'created',
  [zookeeper.Event.NODE_DELETED]: 'deleted',
  [zookeeper.Event.NODE_DATA_CHANGED]: 'dataChanged',
  [zookeeper.Event.NODE_CHILDREN_CHANGED]: 'childrenChanged',
};

function libStateName(state: State): ZkSessionEventState | undefined {
  switch (state.code) {
    case zookeeper.State.SYNC_CONNECTED.code:
      return 'connected';
    case zookeeper.State.CONNECTED_READ_ONLY.code:
      return 'connectedReadOnly';
    case zookeeper.State.DISCONNECTED.code:
      return 'disconnected';
    case zookeeper.State.EXPIRED.code:
      return 'expired';
    case zookeeper.State.AUTH_FAILED.code:
      return 'authFailed';
    default:
      return undefined;
  }
}

function lastName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export class ZkSession {
  private readonly opts: ZkSessionOptions;
  private readonly log: BioLogger;
  private client: Client | undefined;
  private current: ZkSessionState = 'idle';
  private closing = false;
  private closed: Promise<void> | undefined;
  private connecting: Promise<void> | undefined;
  /** Ends connect()'s current attempt or backoff at once, for close(). */
  private wakeConnect: (() => void) | undefined;
  /**
   * The one watcher for every path: the library de-duplicates watchers by function identity, so re-arming a
   * path that already has a pending watch does not make it fire twice.
   */
  private readonly watcher = (event: Event): void => {
    this.emit({ type: 'watch', kind: WATCH_KINDS[event.type], path: event.path });
  };
  /**
   * Each call still waiting for its answer, by the function that settles it. On expiry the library fails only
   * the requests it had sent; one queued while it was reconnecting is never answered, and would hold the Bio
   * worker (which awaits one call at a time) for a whole callTimeoutMs before it could open a new session.
   */
  private readonly waiting = new Set<(err: unknown) => void>();
  /** Judges the connection by the server's silence, from the first session on (see liveness.ts). */
  private watchdog: LivenessWatchdog | undefined;

  /** Throws ZkLibraryError when the installed node-zookeeper-client is not one this code can work with. */
  constructor(options: ZkSessionOptions) {
    assertLibraryShape();
    if (options.auth !== undefined) aclsForAuth(options.auth); // validates "user:password" up front
    this.opts = options;
    this.log = (options.logger ?? SILENT_LOGGER).child({ component: 'zk' });
  }

  get state(): ZkSessionState {
    return this.current;
  }

  /** True once the session can serve no more calls: expired, auth failed or closed. Make a new ZkSession. */
  get dead(): boolean {
    return this.current === 'expired' || this.current === 'authFailed' || this.current === 'closed';
  }

  /** The session id as 16 hex digits (the form of ZkStat.ephemeralOwner); empty before connect(). */
  get sessionId(): string {
    return this.client ? this.client.getSessionId().toString('hex') : '';
  }

  /** The timeout the server granted, in ms (0 before connect()). */
  get sessionTimeout(): number {
    return this.client ? this.client.getSessionTimeout() : 0;
  }

  /** Whether this session still holds a TCP socket (for tests and diagnostics: false once close() resolved). */
  get socketOpen(): boolean {
    return this.client !== undefined && hasOpenSocket(this.client);
  }

  /** ACLs for the nodes this session creates: world READ + ALL for the digest identity, or open without auth. */
  defaultAcl(): ZkAcl[] {
    return aclsForAuth(this.opts.auth);
  }

  /**
   * Opens the session. Each attempt is bounded; a failed attempt is reported (event `connectFailed` and a warn
   * log) and retried after a jittered exponential backoff, until the deadline. Rejects with ZCONNECTIONLOSS when
   * the deadline passes (the session is then idle again and connect() may be called again), or ZCLOSING when
   * close() is called meanwhile.
   */
  connect(): Promise<void> {
    if (this.current !== 'idle')
      return Promise.reject(new ZkError(ZAPIERROR, `connect() in state ${this.current}`));
    this.connecting = this.connectLoop();
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    const c = this.opts.connect ?? {};
    const attemptTimeoutMs = c.attemptTimeoutMs ?? 3000;
    const deadlineMs = c.deadlineMs ?? 30000;
    const base = c.backoffBaseMs ?? 100;
    const max = c.backoffMaxMs ?? 500;
    const started = Date.now();
    this.current = 'connecting';
    this.log.info(
      { connectString: this.opts.connectString, digestAuth: this.opts.auth !== undefined },
      'connecting',
    );
    for (let attempt = 1; ; attempt++) {
      const left = started + deadlineMs - Date.now();
      const client = this.newClient();
      try {
        try {
          await this.attemptConnect(client, Math.max(1, Math.min(attemptTimeoutMs, left)), attemptTimeoutMs);
        } finally {
          this.wakeConnect = undefined;
        }
        if (this.closing) throw new Error('closed');
        this.client = client;
        this.current = 'connected';
        this.watch(client);
        this.log.info(
          { sessionId: this.sessionId, sessionTimeout: this.sessionTimeout, attempt },
          'session connected',
        );
        this.emit({ type: 'state', state: 'connected', sessionId: this.sessionId });
        return;
      } catch (err) {
        await closeHard(client, 0);
        if (this.closing) throw new ZkError(ZCLOSING, 'session closed while connecting');
        const delay = Math.round(Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() * 0.5));
        const givingUp = Date.now() + delay >= started + deadlineMs;
        const message = (err as Error).message;
        this.emit({
          type: 'connectFailed',
          attempt,
          code: ZCONNECTIONLOSS,
          name: 'ZCONNECTIONLOSS',
          message,
          retryInMs: givingUp ? null : delay,
        });
        this.log.warn(
          { attempt, err: message, retryInMs: givingUp ? null : delay },
          'ZooKeeper connect attempt failed',
        );
        if (givingUp) {
          this.current = 'idle';
          throw new ZkError(
            ZCONNECTIONLOSS,
            `no ZooKeeper server at ${this.opts.connectString} answered in ${Date.now() - started} ms ` +
              `(${attempt} attempts; last: ${message})`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wakeConnect = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeConnect = undefined;
        if (this.closing) throw new ZkError(ZCLOSING, 'session closed while connecting');
      }
    }
  }

  private watch(client: Client): void {
    this.watchdog = new LivenessWatchdog({
      sessionTimeoutMs: () => client.getSessionTimeout(),
      up: () => linkUp(client),
      ping: () => sendPing(client),
      drop: (silentMs) => {
        this.log.warn(
          { sessionId: this.sessionId, silentMs: Math.round(silentMs) },
          'no word from ZooKeeper for 2/3 of the session timeout; dropping the connection',
        );
        dropConnection(client);
      },
      lost: (silentMs) => this.onLost(silentMs),
    });
    this.watchdog.start();
  }

  private onLost(silentMs: number): void {
    if (this.closing || this.dead) return;
    this.current = 'lost';
    this.log.warn(
      { sessionId: this.sessionId, silentMs: Math.round(silentMs) },
      'no word from ZooKeeper for a whole session timeout; the session is lost',
    );
    this.emit({ type: 'state', state: 'lost', sessionId: this.sessionId });
  }

  private newClient(): Client {
    const client = zookeeper.createClient(this.opts.connectString, {
      sessionTimeout: this.opts.sessionTimeoutMs ?? 10000,
      spinDelay: this.opts.spinDelayMs ?? 200,
      retries: 0, // no hidden retries: a lost reply reaches the caller, who knows whether a retry is safe
    });
    // Before connect: the library then sends the credential ahead of any request, on every (re)connection.
    if (this.opts.auth !== undefined) client.addAuthInfo('digest', Buffer.from(this.opts.auth, 'utf8'));
    client.on('state', (state) => this.onClientState(client, state));
    return client;
  }

  /**
   * Resolves when `client` has a session; rejects after `ms`, or as soon as every server refused once.
   * `attemptTimeoutMs` also bounds each server's share of every later reconnect (see instrumentClient).
   */
  private attemptConnect(client: Client, ms: number, attemptTimeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const servers = serverCount(client);
      const errors = new Map<number, string>();
      let n = 0;
      const timer = setTimeout(() => {
        const seen = errors.size > 0 ? `; socket errors: ${[...new Set(errors.values())].join(', ')}` : '';
        reject(new Error(`no session within ${ms} ms${seen}`));
      }, ms);
      instrumentClient(client, {
        attemptTimeoutMs,
        onSocketError: (error) => {
          errors.set(n++ % servers, error.message);
          if (errors.size >= servers) {
            clearTimeout(timer);
            reject(new Error([...new Set(errors.values())].join(', ')));
          }
        },
        onHeard: () => {
          if (client === this.client) this.watchdog?.heard();
        },
      });
      client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      this.wakeConnect = () => {
        clearTimeout(timer);
        reject(new Error('session closed while connecting'));
      };
      client.connect();
    });
  }

  private onClientState(client: Client, libState: State): void {
    // Connect attempts report through connectFailed, and a closing session through its final `closed`.
    // After expiry the library still reports its socket closing; the session is over, so that is not news.
    if (client !== this.client || this.closing || this.dead) return;
    const state = libStateName(libState);
    if (state === undefined || state === this.current) return;
    // A lost session stays lost while disconnected: only the server's answer (connected, expired) ends that.
    if (state === 'disconnected' && this.current === 'lost') return;
    this.current = state;
    const level = state === 'connected' ? 'info' : 'warn';
    this.log[level]({ sessionId: this.sessionId, state }, 'session state');
    this.emit({ type: 'state', state, sessionId: this.sessionId });
    if (state === 'expired' || state === 'authFailed') {
      this.watchdog?.stop();
      const code = state === 'expired' ? ZSESSIONEXPIRED : ZAUTHFAILED;
      for (const settle of [...this.waiting]) settle(new ZkError(code, `session ${state} while waiting`));
    }
  }

  private emit(event: ZkEvent): void {
    try {
      this.opts.onEvent?.(event);
    } catch (err) {
      this.log.error({ err, event }, 'onEvent threw; event dropped');
    }
  }

  /**
   * Runs one library call, bounded by callTimeoutMs. A late reply after the timeout is ignored: the caller has
   * already been told the outcome is unknown (ZCALLTIMEOUT).
   */
  private call<T>(
    what: string,
    path: string,
    run: (client: Client, done: (err: unknown, value?: T) => void) => void,
  ): Promise<T> {
    if (this.closing || this.current === 'closed')
      return Promise.reject(new ZkError(ZCLOSING, `${what}: session closed`, path));
    if (this.current === 'expired')
      return Promise.reject(new ZkError(ZSESSIONEXPIRED, `${what}: session expired`, path));
    const client = this.client;
    if (!client) return Promise.reject(new ZkError(ZCONNECTIONLOSS, `${what}: not connected`, path));
    const ms = this.opts.callTimeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.waiting.delete(done);
        reject(new ZkError(ZCALLTIMEOUT, `${what} got no answer within ${ms} ms`, path));
      }, ms);
      const done = (err: unknown, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.waiting.delete(done);
        if (err) reject(toZkError(err, path));
        else resolve(value as T);
      };
      this.waiting.add(done);
      try {
        run(client, done);
      } catch (err) {
        done(err); // the library's argument checks throw synchronously
      }
    });
  }

  /** Creates a node with its data in the one call; resolves with the created path (sequence suffix included). */
  create(
    path: string,
    data: ZkData,
    mode: CreateModeValue = CreateMode.PERSISTENT,
    acl?: readonly ZkAcl[],
  ): Promise<string> {
    const acls = toLibAcls(acl ?? this.defaultAcl());
    return this.call<string>('create', path, (c, done) => c.create(path, toBuffer(data), acls, mode, done));
  }

  /** Data as UTF-8 (empty for a node without data) and stat; `watch` arms a data watch. */
  get(path: string, watch = false): Promise<{ data: string; stat: ZkStat }> {
    return this.call('get', path, (c, done) => readData(c, path, watch ? this.watcher : undefined, done));
  }

  /** Child names (not paths) and the parent's stat; `watch` arms a child watch. */
  getChildren(path: string, watch = false): Promise<{ children: string[]; stat: ZkStat }> {
    return this.call('getChildren', path, (c, done) => {
      const cb = (err: unknown, children?: string[], stat?: Stat) =>
        err ? done(err) : done(null, { children: children ?? [], stat: toStat(stat as Stat) });
      if (watch) c.getChildren(path, this.watcher, cb);
      else c.getChildren(path, cb);
    });
  }

  /**
   * A persistent recursive watch on `path` (ZooKeeper 3.6+ addWatch): until the connection drops, every node
   * created, deleted or changed at or below `path` is reported to `onEvent`, synchronously from the socket like
   * any watch event (childrenChanged is never reported: a recursive watch does not send it). Rejects with
   * ZUNIMPLEMENTED on an older server. A reconnect loses the watch: add it again.
   */
  addPersistentWatch(path: string, onEvent: (kind: ZkWatchKind, path: string) => void): Promise<void> {
    return this.call<void>('addWatch', path, (c, done) => {
      onEveryNotification(c, (type, at) => {
        for (const [root, fn] of this.persistentWatches)
          if (at === root || at.startsWith(`${root}/`)) fn(WATCH_KINDS[type], at);
      });
      this.persistentWatches.set(path, onEvent);
      addPersistentRecursiveWatch(c, path, (err) => done(err));
    });
  }
  private readonly persistentWatches = new Map<string, (kind: ZkWatchKind, path: string) => void>();

  /** The stat, or null when the node does not exist; `watch` arms a watch that fires on create, change or delete. */
  exists(path: string, watch = false): Promise<ZkStat | null> {
    return this.call('exists', path, (c, done) => {
      const cb = (err: unknown, stat?: Stat | null) =>
        err ? done(err) : done(null, stat ? toStat(stat) : null);
      if (watch) c.exists(path, this.watcher, cb);
      else c.exists(path, cb);
    });
  }

  /** Sets data if `version` matches (-1: any); null data writes an empty node. */
  set(path: string, data: ZkData, version = -1): Promise<ZkStat> {
    return this.call('set', path, (c, done) =>
      c.setData(path, toBuffer(data), version, (err, stat) => (err ? done(err) : done(null, toStat(stat)))),
    );
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call<void>('delete', path, (c, done) => c.remove(path, version, (err) => done(err)));
  }

  /** Creates `path` and any missing ancestors as persistent, empty nodes; existing ones are left alone. */
  async mkdirp(path: string, acl?: readonly ZkAcl[]): Promise<void> {
    if (path === '/' || (await this.exists(path)) !== null) return;
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const prefix = `/${parts.slice(0, i).join('/')}`;
      try {
        await this.create(prefix, null, CreateMode.PERSISTENT, acl);
      } catch (err) {
        if ((err as ZkError).code !== ZNODEEXISTS) throw err;
      }
    }
  }

  /**
   * Creates this session's own EPHEMERAL_SEQUENTIAL node `${parentPath}/${namePrefix}NNNNNNNNNN` with its data
   * in the one call, and optionally its EPHEMERAL payload node `${payload.parentPath}/${that same name}`.
   *
   * Protected against a lost reply: when a create ends in ZCONNECTIONLOSS or ZCALLTIMEOUT it may have happened
   * anyway, so before creating again the parent's children are listed and the one whose ephemeralOwner is this
   * session is taken as ours. The library sends a session's requests in order over one connection, so that
   * listing is answered after any create still in flight. There is never a second registration.
   *
   * Why not one multi-op for both nodes: the payload's name must be the own node's final name, and that
   * carries the sequence number the server picks at commit time; a multi's ops are fixed before it is sent.
   * (The number is the parent's cversion, but nothing in a multi can check a cversion, so guessing it races
   * with every peer that joins.) So the own node goes first, data included, which is the part peers watch;
   * the payload, which nobody watches, follows with the now-known name. Both are ephemeral: if we die in
   * between, both go with the session.
   */
  async createProtected(
    parentPath: string,
    namePrefix: string,
    data: ZkData,
    options: {
      acl?: readonly ZkAcl[];
      payload?: { parentPath: string; data: ZkData };
      maxAttempts?: number;
    } = {},
  ): Promise<ProtectedCreateResult> {
    const maxAttempts = options.maxAttempts ?? 5;
    const prefixPath = joinPath(parentPath, namePrefix);
    let path: string | undefined;
    for (let attempt = 1; path === undefined; attempt++) {
      try {
        path = await this.create(prefixPath, data, CreateMode.EPHEMERAL_SEQUENTIAL, options.acl);
      } catch (err) {
        if (!this.outcomeUnknown(err) || attempt >= maxAttempts) throw err;
        this.log.warn(
          { path: prefixPath, attempt, err: (err as Error).message },
          'create reply lost; looking for our node',
        );
        path = await this.retryUnknown(maxAttempts, () => this.findOwnNode(parentPath, namePrefix));
        if (path) this.log.info({ path }, 'found our node from the lost create');
      }
    }
    if (!options.payload) return { path };
    const payloadPath = joinPath(options.payload.parentPath, lastName(path));
    const payloadData = options.payload.data;
    await this.retryUnknown(maxAttempts, async () => {
      try {
        await this.create(payloadPath, payloadData, CreateMode.EPHEMERAL, options.acl);
      } catch (err) {
        // A retried create whose first try went through: ours if this session owns it.
        if ((err as ZkError).code !== ZNODEEXISTS) throw err;
        const stat = await this.exists(payloadPath);
        if (stat?.ephemeralOwner !== this.sessionId) throw err;
      }
    });
    return { path, payloadPath };
  }

  private outcomeUnknown(err: unknown): boolean {
    const code = (err as ZkError).code;
    return code === ZCONNECTIONLOSS || code === ZCALLTIMEOUT;
  }

  /** Repeats `fn` while it fails with an unknown outcome, up to maxAttempts times. */
  private async retryUnknown<T>(maxAttempts: number, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!this.outcomeUnknown(err) || attempt >= maxAttempts) throw err;
        await sleep(Math.min(1000, 50 * 2 ** attempt));
      }
    }
  }

  /**
   * The child `${namePrefix}NNNNNNNNNN` of parentPath that this session owns, if any (the lowest, if several).
   * Public so that an owner retrying a whole registration task can check before it creates again.
   */
  async findOwnNode(parentPath: string, namePrefix: string): Promise<string | undefined> {
    const { children } = await this.getChildren(parentPath);
    const candidates = children.filter((n) => isSequentialChild(n, namePrefix)).sort();
    for (const name of candidates) {
      const path = joinPath(parentPath, name);
      const stat = await this.exists(path);
      if (stat && stat.ephemeralOwner !== NO_OWNER && stat.ephemeralOwner === this.sessionId) return path;
    }
    return undefined;
  }

  /**
   * Ends the session and resolves when its socket is gone, within about closeTimeoutMs even while the server
   * is down or frozen (see closeHard). Idempotent. Peers see our ephemeral nodes go at once when the server
   * got the close; otherwise they go when the session times out.
   */
  close(): Promise<void> {
    this.closed ??= this.doClose();
    return this.closed;
  }

  private async doClose(): Promise<void> {
    const hadSession = this.client !== undefined;
    const sessionId = this.sessionId;
    this.closing = true;
    this.wakeConnect?.();
    // connect() cleans up its attempt's client itself; wait for that, so that no socket outlives close().
    await this.connecting?.catch(() => {});
    this.watchdog?.stop();
    if (this.client) {
      const how = await closeHard(this.client, this.opts.closeTimeoutMs ?? 1000);
      this.log.info({ sessionId, how }, 'session closed');
    }
    this.current = 'closed';
    if (hadSession) this.emit({ type: 'state', state: 'closed', sessionId });
  }
}
