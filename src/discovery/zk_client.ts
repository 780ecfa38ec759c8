/**
 * ZkClient: discovery on the main thread. It never calls ZooKeeper itself: it queues tasks on the Bio and
 * applies what comes back (acks and watch/session events, in ZooKeeper's order) to the node table.
 *
 * Session states: CONNECTING → CONNECTED ⇄ SUSPENDED (disconnected; the session may live) → LOST (a session
 * timeout without a word: the registration is not claimed) → CONNECTED,
 * or EXPIRED (a new session is opened) …; AUTH_FAILED; CLOSED after stop(). Healthy means CONNECTED and registered.
 *
 * What happens when:
 * - a new session connects (the first, or after expiry): register (see registration.ts), then a full resync of
 *   every subscribed type: list with a watch, read every child with a watch, drop what is gone;
 * - the same session reconnects: the registration is reconciled and every type resynced, since events may
 *   have been merged or lost meanwhile;
 * - the own node is deleted or its data changed from outside: the registration puts it right;
 * - a type folder's children change: list again (one LIST in flight per type, a second one coalesced), read
 *   the new children, drop the gone ones;
 * - a child's data changes: read it again and upsert; a child is deleted: drop it;
 * - a type folder does not exist: the handler leaves an exists watch, and its creation triggers a list.
 * Every ZooKeeper watch is one-shot, and every read that handles one sets the next.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Bio } from '../bio/bio.js';
import { BioError } from '../bio/protocol.js';
import { monoNow } from '../clock.js';
import { QueueFullError, ZkbioError } from '../errors.js';
import { createLogger } from '../log.js';
import { createMetrics, type Metrics, type SessionState } from '../metrics.js';
import { Nodes, type NodesChange } from '../nodes/table.js';
import type { ZkNode } from '../nodes/validate.js';
import type { BioRecord } from '../ring/codec.js';
import { Cmd, type SessionEvent } from '../zk/commands.js';
import type { ZkHandlerOptions } from '../zk/handler.js';
import { assertLibraryShape } from '../zk/nzk-internals.js';
import { type BadPeer, BadPeers } from './bad_peers.js';
import type { ZkbioConfig } from './config.js';
import { type PeerData, type PeerDataReason, parsePeerData } from './peer.js';
import { OwnRegistration } from './registration.js';

export interface ZkClientEvents {
  /** A node now serves in the table. */
  added: [node: ZkNode];
  /** A node no longer serves. */
  removed: [node: ZkNode];
  /** A serving node's data changed. */
  changed: [change: { old: ZkNode; new: ZkNode }];
  /** The session state changed. */
  state: [state: SessionState, previous: SessionState];
  /** The own node was created (again, after an expiry). */
  registered: [path: string];
  /** The bio thread kept crashing and the Bio gave up: discovery is CLOSED for good; restart the process. */
  failed: [err: Error];
}

export interface ZkClientOptions {
  logger?: Logger;
  metrics?: Metrics;
  /** The table to feed; a new one by default. */
  nodes?: Nodes;
}

interface TypeWatch {
  folder: string;
  /** A LIST is queued or in flight. */
  listing: boolean;
  /** Another change came while listing: list once more when it is done. */
  listAgain: boolean;
  /** The next listing reads every child, not just the new ones (watches were lost or events merged). */
  fullResync: boolean;
  /** Failed lists or reads in a row: the next retry waits 200 ms doubling to 5 s, so a lasting error cannot spin. */
  failures: number;
  /** A retry is scheduled; more failures meanwhile wait for it. */
  retrying: boolean;
}

const HANDLER_URL = new URL('../zk/handler.js', import.meta.url);
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

export class ZkClient extends EventEmitter<ZkClientEvents> {
  readonly nodes: Nodes;
  readonly metrics: Metrics;
  readonly config: ZkbioConfig;
  private readonly logger: Logger;
  private readonly bio: Bio;
  private readonly types = new Map<string, TypeWatch>();
  private readonly onAck = new Map<number, (ack: BioRecord) => void>();
  /** Peer znodes skipped for bad data: logged once each, listed on the status page. */
  private readonly bad = new BadPeers();
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * Serving nodes per subscribed type, for the table-size gauge, kept from the table's change events: listing
   * the table on every change cost O(nodes) per ack, about 0.1 ms each at 1,000 peers.
   */
  private readonly served = new Map<string, number>();
  private readonly registration: OwnRegistration;
  private _state: SessionState = 'CONNECTING';
  private sessionId: string | null = null;
  private payloadDirty = false;
  private payloadTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;

  constructor(config: ZkbioConfig, opts: ZkClientOptions = {}) {
    super();
    this.config = config;
    this.logger = opts.logger ?? createLogger({ level: config.zookeeper.logLevel });
    this.metrics = opts.metrics ?? createMetrics({ defaultMetrics: config.metrics.defaultMetrics });
    this.nodes = opts.nodes ?? new Nodes({ root: config.zookeeper.nodesRoot });
    this.nodes.on('change', (change) => this.reportChange(change));
    for (const type of config.zookeeper.subscribeNodeTypes) {
      this.types.set(type, {
        folder: `${config.zookeeper.nodesRoot}/${type}`,
        listing: false,
        listAgain: false,
        fullResync: true,
        failures: 0,
        retrying: false,
      });
      this.countServed(type, this.nodes.list(type).length);
    }
    const handlerOptions: ZkHandlerOptions = {
      servers: config.zookeeper.servers,
      sessionTimeoutMs: config.zookeeper.sessionTimeoutMs,
      connectTimeoutMs: config.zookeeper.connectTimeoutMs,
      callTimeoutMs: config.zookeeper.callTimeoutMs,
      auth: config.zookeeper.auth ? `${config.zookeeper.auth.user}:${config.zookeeper.auth.password}` : null,
    };
    this.bio = new Bio({
      handler: HANDLER_URL,
      handlerOptions,
      processAck: (ack) => this.processAck(ack),
      maxAcksPerTick: config.bio.maxAcksPerTick,
      tickMs: config.bio.tickMs,
      doorbell: config.bio.doorbell,
      onSlice: (ms) => this.metrics.drainSliceDuration.observe(ms / 1000),
      taskRingBytes: config.bio.taskRingBytes,
      ackRingBytes: config.bio.ackRingBytes,
      logger: this.logger.child({ component: 'bio' }),
    });
    this.registration = new OwnRegistration({
      config,
      metrics: this.metrics,
      logger: this.logger,
      maxTaskBytes: this.bio.maxTaskBytes,
      queue: (cmd, path, value, values, done) => this.queue(cmd, path, value, values, done),
      later: (ms, fn) => this.later(ms, fn),
      canRun: () => this._state === 'CONNECTED' && !this.stopping,
      onRegistered: (path) => this.emit('registered', path),
    });
    this.bio.on('crash', () => this.onBioCrash());
    this.bio.on('failed', (err) => {
      this.logger.fatal({ err }, 'the bio thread kept crashing; discovery has stopped');
      this.registration.onStopped();
      this.setState('CLOSED');
      this.emit('failed', err);
    });
    this.metrics.ringCapacityBytes.set({ ring: 'task' }, config.bio.taskRingBytes);
    this.metrics.ringCapacityBytes.set({ ring: 'ack' }, config.bio.ackRingBytes);
    this.metrics.setSessionState(this._state);
  }

  get state(): SessionState {
    return this._state;
  }

  /** The own registration znode's path, or null while not registered. */
  get self(): string | null {
    return this.registration.self;
  }

  /** Connected and registered: what /healthz reports as 200. */
  get healthy(): boolean {
    return this._state === 'CONNECTED' && this.registration.self !== null;
  }

  /** Peer znodes that are skipped now because their data is bad, in the order they were first refused. */
  get badPeers(): BadPeer[] {
    return this.bad.list();
  }

  /**
   * Starts the bio thread and the session. Resolves once the thread runs; the session connects in the background.
   * Throws ZkLibraryError (code ZK_LIBRARY_UNSUPPORTED) when node-zookeeper-client is not a version zkbio supports.
   */
  async start(): Promise<void> {
    assertLibraryShape(); // a ZkLibraryError now, rather than every connect failing on the bio thread
    await this.bio.start();
    this.connect();
    this.payloadTimer = setInterval(() => this.flushPayload(), this.config.zookeeper.payloadIntervalMs);
    this.payloadTimer.unref();
  }

  /** Resolves when the session is connected, the own node registered and every type listed once. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.healthy && [...this.types.values()].every((t) => !t.listing && !t.fullResync))) {
      if (this.stopping) throw new ZkbioError('STOPPED', 'ZkClient stopped before it was ready');
      if (Date.now() > deadline)
        throw new ZkbioError(
          'READY_TIMEOUT',
          `ZkClient not ready after ${timeoutMs} ms (state ${this._state})`,
        );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * The load report written to the payload node: at most once per `zookeeper.payload_interval`, and only
   * while connected and registered (the latest report wins). A report that is not JSON-serialisable, or
   * larger than a task can carry (PayloadTooLargeError, which names the limit), is refused and the last
   * good one kept.
   */
  setPayload(report: unknown): void {
    const json = JSON.stringify(report) as string | undefined;
    if (json === undefined) throw new ZkbioError('PAYLOAD_INVALID', `payload ${String(report)} is not JSON`);
    this.registration.setPayload(json);
    this.payloadDirty = true;
  }

  /** Closes the session (peers see the own node go at once), then stops the bio thread. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.payloadTimer) clearInterval(this.payloadTimer);
    // The bio thread finishes its task in flight (a connect that is still retrying gives up), cancels the
    // queued ones and closes the session on its way out: no CLOSE task that could wait behind a connect.
    await this.bio.stop();
    this.registration.onStopped();
    this.setState('CLOSED');
  }

  // ---- tasks ----

  /** Queues a task with its ack callback. A full ring is retried shortly, so no discovery step is ever dropped. */
  private queue(
    cmd: number,
    path: string,
    value: string,
    values: string[],
    done: (ack: BioRecord) => void,
  ): void {
    try {
      const id = this.bio.addCmdTask(cmd, path, value, values);
      this.onAck.set(id, done);
      this.metrics.tasksTotal.inc({ cmd: cmdName(cmd) });
    } catch (err) {
      if (!(err instanceof QueueFullError)) {
        if (!this.stopping)
          this.logger.error({ err, cmd: cmdName(cmd), path }, 'could not queue a ZooKeeper task');
        return;
      }
      this.metrics.queueFullTotal.inc();
      this.later(10, () => this.queue(cmd, path, value, values, done));
    }
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopping) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private connect(): void {
    this.queue(Cmd.CONNECT, '', '', [], (ack) => {
      if (ack.error !== 0 && ack.error !== BioError.Cancelled && !this.stopping) {
        this.logger.error({ error: ack.errName, detail: ack.result }, 'could not open a ZooKeeper session');
        this.later(RETRY_MAX_MS, () => this.connect());
      }
    });
  }

  private list(type: string): void {
    const t = this.types.get(type);
    if (!t || this.stopping) return;
    if (t.listing) {
      t.listAgain = true;
      return;
    }
    t.listing = true;
    this.queue(Cmd.LIST, t.folder, '', [], (ack) => this.onListed(type, t, ack));
  }

  private onListed(type: string, t: TypeWatch, ack: BioRecord): void {
    t.listing = false;
    if (ack.error === 0 || ack.errName === 'ZNONODE') {
      // A missing folder has no children: the handler left an exists watch on it.
      const names = ack.error === 0 ? ack.values : [];
      t.failures = 0;
      const diff = this.nodes.applyChildren(type, names);
      this.bad.forgetGone(t.folder, names);
      const toRead = t.fullResync ? names : diff.added.map((p) => p.slice(t.folder.length + 1));
      t.fullResync = false;
      this.readChildren(t.folder, toRead);
    } else if (ack.error !== BioError.Cancelled && ack.error !== BioError.WorkerCrashed) {
      // Connection loss and the like: the reconnect resyncs; otherwise try again shortly.
      this.logger.warn({ type, error: ack.errName, detail: ack.result }, 'listing a node type failed');
      this.retryType(type);
      return;
    }
    if (t.listAgain) {
      t.listAgain = false;
      this.list(type);
    }
  }

  /**
   * Reads children with GET_MANY tasks of at most a quarter of the task ring each: a task must fit in half
   * the ring, and one read of a whole large folder would not (it was refused, and those peers never read).
   */
  private readChildren(folder: string, names: string[]): void {
    const budget = this.config.bio.taskRingBytes / 4;
    let batch: string[] = [];
    let bytes = 0;
    for (const name of names) {
      const n = 4 + Buffer.byteLength(name, 'utf8');
      if (batch.length > 0 && bytes + n > budget) {
        this.queue(Cmd.GET_MANY, folder, '', batch, (a) => this.onReadDone(a));
        batch = [];
        bytes = 0;
      }
      batch.push(name);
      bytes += n;
    }
    if (batch.length > 0) this.queue(Cmd.GET_MANY, folder, '', batch, (a) => this.onReadDone(a));
  }

  private onReadDone(ack: BioRecord): void {
    if (ack.error !== 0 && ack.error !== BioError.Cancelled && ack.error !== BioError.WorkerCrashed) {
      this.logger.warn(
        { folder: ack.path, error: ack.errName },
        'reading children failed; resyncing the type',
      );
      const type = this.typeOfFolder(ack.path);
      if (type) this.retryType(type);
    }
  }

  /** A full resync of `type` after a failure, with backoff; one retry pending per type at a time. */
  private retryType(type: string): void {
    const t = this.types.get(type);
    if (!t || t.retrying) return;
    t.retrying = true;
    t.fullResync = true;
    const delay = Math.min(RETRY_MIN_MS * 2 ** t.failures++, RETRY_MAX_MS);
    this.later(delay, () => {
      t.retrying = false;
      this.resync(type);
    });
  }

  /** Lists a type again and reads every child, re-arming every watch. */
  private resync(type: string): void {
    const t = this.types.get(type);
    if (!t) return;
    t.fullResync = true;
    this.list(type);
  }

  private flushPayload(): void {
    if (!this.payloadDirty || !this.healthy) return;
    const self = this.registration.self as string;
    this.payloadDirty = false;
    const path = `${this.config.zookeeper.payloadRoot}/${this.config.nodeType}/${self.slice(self.lastIndexOf('/') + 1)}`;
    this.queue(Cmd.SET_DATA, path, this.registration.payload, [], (ack) => {
      if (ack.error !== 0 && ack.error !== BioError.Cancelled) {
        this.payloadDirty = true; // try again next interval
        this.logger.debug({ path, error: ack.errName }, 'payload write failed');
        if (ack.errName === 'ZNONODE') this.registration.reconcile(); // it creates the payload node again
      }
    });
  }

  // ---- acks and events ----

  private processAck(ack: BioRecord): void {
    this.metrics.ackDrainLatency.observe((monoNow() - ack.doneAt) / 1000);
    this.metrics.acksTotal.inc({ cmd: cmdName(ack.cmd) });
    if (ack.id !== 0) {
      const done = this.onAck.get(ack.id);
      this.onAck.delete(ack.id);
      done?.(ack);
      return;
    }
    switch (ack.cmd) {
      case Cmd.EV_SESSION:
        this.onSession(ack.value as SessionEvent, ack.result, ack.errName);
        break;
      case Cmd.EV_NODE_DATA:
        this.onNodeData(ack);
        break;
      case Cmd.EV_CHILDREN_CHANGED:
      case Cmd.EV_CREATED: {
        const type = this.typeOfFolder(ack.path);
        if (type) this.list(type);
        break;
      }
      case Cmd.EV_DATA_CHANGED: {
        const type = this.typeOfFolder(parentOf(ack.path));
        // A data change of a type folder itself is no node's data (kimserver's defect 8): ignore it.
        if (type) this.readChildren(parentOf(ack.path), [nameOf(ack.path)]);
        if (!this.stopping) this.registration.onOwnNodeEvent(ack.path, false);
        break;
      }
      case Cmd.EV_DELETED: {
        // stop() closing the session deletes the own node too: that is no reason to register again.
        if (!this.stopping) this.registration.onOwnNodeEvent(ack.path, true);
        const folderType = this.typeOfFolder(ack.path);
        if (folderType)
          this.list(folderType); // the folder itself went: listing leaves an exists watch
        else if (this.typeOfFolder(parentOf(ack.path))) {
          this.bad.forget(ack.path);
          this.nodes.delZkNode(ack.path);
        }
        break;
      }
    }
    this.metrics.tableVersion.set(this.nodes.version);
  }

  private onSession(event: SessionEvent, sessionId: string, detail: string): void {
    switch (event) {
      case 'CONNECTING':
        this.logger.warn({ detail }, 'ZooKeeper not reachable yet; retrying with backoff');
        if (this._state !== 'EXPIRED') this.setState('CONNECTING');
        return;
      case 'CONNECTED': {
        const newSession = sessionId !== this.sessionId;
        this.logger.info({ sessionId, newSession }, 'ZooKeeper session connected');
        this.sessionId = sessionId;
        this.setState('CONNECTED');
        this.registration.onConnected(sessionId);
        for (const type of this.types.keys()) this.resync(type);
        return;
      }
      case 'DISCONNECTED':
        this.logger.warn({ sessionId: this.sessionId }, 'ZooKeeper connection lost; the session may resume');
        this.setState('SUSPENDED');
        return;
      case 'LOST':
        // As Curator does: after a session timeout without a word, ZooKeeper has dropped (or will drop) the
        // registration, so it is not claimed. Back on the same session, CONNECTED registers again (finding
        // the node if it is still there); an expired one goes through EXPIRED.
        this.logger.warn({ sessionId: this.sessionId }, 'ZooKeeper session lost; unhealthy until it resumes');
        this.registration.onLost();
        this.setState('LOST');
        return;
      case 'EXPIRED':
        this.logger.warn({ sessionId: this.sessionId }, 'ZooKeeper session expired; opening a new one');
        this.metrics.sessionExpiriesTotal.inc();
        this.registration.onExpired();
        this.setState('EXPIRED');
        this.connect();
        return;
      case 'AUTH_FAILED':
        this.logger.error('ZooKeeper refused the credentials in zookeeper.auth');
        this.setState('AUTH_FAILED');
        return;
      case 'CLOSED':
        return;
    }
  }

  private onNodeData(ev: BioRecord): void {
    const folder = parentOf(ev.path);
    const type = this.typeOfFolder(folder);
    if (!type) return;
    // Data too large for the ack ring is bad data like any other too large, and a node whose ACL denies us
    // reads (any peer may set one) is bad data too: reading either again cannot help, and a resync would
    // read it again at once, in a loop.
    const tooLarge = ev.error === BioError.RecordTooLarge;
    if (ev.errName === 'ZNOAUTH') {
      this.badPeerData(ev.path, type, 'invalid', 'the node is not readable (ZNOAUTH): its ACL denies us');
      return;
    }
    if (ev.error !== 0 && !tooLarge) {
      // ZNONODE: deleted since it was listed; the children watch reports it too.
      if (ev.errName === 'ZNONODE') {
        this.bad.forget(ev.path);
        this.nodes.delZkNode(ev.path);
      } else this.retryType(type);
      return;
    }
    const peer: PeerData = tooLarge
      ? { ok: false, reason: 'too_large', detail: `${ev.result} bytes do not fit in the ack ring` }
      : parsePeerData(ev.path, type, ev.value, this.config.zookeeper.maxNodeBytes);
    if (!peer.ok) {
      this.badPeerData(ev.path, type, peer.reason, peer.detail);
      return;
    }
    this.bad.forget(ev.path);
    this.nodes.upsert(peer.node);
  }

  private badPeerData(path: string, type: string, reason: PeerDataReason, detail: string): void {
    this.metrics.badPeerDataTotal.inc({ reason });
    if (this.bad.note(path, type, reason, detail))
      this.logger.warn({ path, reason, detail }, 'skipping bad peer data');
    // A node that turned bad no longer serves: its last good data is stale.
    this.nodes.delZkNode(path);
  }

  private onBioCrash(): void {
    // Acks for every task the thread had are WorkerCrashed; the new thread opens a new session by itself
    // only if asked: connect again, and the CONNECTED event re-registers and resyncs.
    this.logger.error('bio thread crashed; reconnecting once it restarts');
    this.registration.onThreadCrash();
    this.sessionId = null;
    for (const t of this.types.values()) {
      t.listing = false;
      t.listAgain = false;
      t.fullResync = true;
    }
    this.setState('CONNECTING');
    this.connect();
  }

  private reportChange(change: NodesChange): void {
    for (const node of change.removed) this.emit('removed', node);
    for (const node of change.added) this.emit('added', node);
    for (const c of change.changed) this.emit('changed', c);
    for (const node of change.removed) this.countServed(node.type, -1);
    for (const node of change.added) this.countServed(node.type, 1);
  }

  /** Moves the table-size gauge of a subscribed type by `delta` (a changed node keeps its folder's type). */
  private countServed(type: string, delta: number): void {
    if (!this.types.has(type)) return;
    const n = (this.served.get(type) ?? 0) + delta;
    this.served.set(type, n);
    this.metrics.tableNodes.set({ type }, n);
  }

  private setState(state: SessionState): void {
    const previous = this._state;
    this._state = state;
    this.metrics.setSessionState(state);
    if (state !== previous) this.emit('state', state, previous);
  }

  private typeOfFolder(folder: string): string | undefined {
    if (!folder.startsWith(`${this.config.zookeeper.nodesRoot}/`)) return undefined;
    const type = folder.slice(this.config.zookeeper.nodesRoot.length + 1);
    return this.types.has(type) ? type : undefined;
  }

  /** Ring usage for metrics, in bytes. */
  refreshQueueMetrics(): void {
    const used = this.bio.ringUsedBytes();
    this.metrics.ringUsedBytes.set({ ring: 'task' }, used.task);
    this.metrics.ringUsedBytes.set({ ring: 'ack' }, used.ack);
  }
}

const CMD_NAMES = new Map<number, string>(Object.entries(Cmd).map(([k, v]) => [v, k]));
function cmdName(cmd: number): string {
  return CMD_NAMES.get(cmd) ?? String(cmd);
}
function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}
function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
