/**
 * ZkClient: discovery on the main thread. It never calls ZooKeeper itself: it queues tasks on the Bio and
 * applies what comes back (acks and watch/session events, in ZooKeeper's order) to the node table.
 *
 * Session states: CONNECTING → CONNECTED ⇄ SUSPENDED (disconnected; the session may live) → LOST (a session
 * timeout without a word: the registration is not claimed) → CONNECTED,
 * or EXPIRED (a new session is opened) …; AUTH_FAILED; CLOSED after stop(). Healthy means CONNECTED and registered.
 *
 * What happens when:
 * - a new session connects (the first, or after expiry): register (see registration.ts), then a resync of
 *   every subscribed type (SUBSCRIBE, see subscriptions.ts);
 * - the same session reconnects: the registration is reconciled and every type resynced, since events may
 *   have been merged or lost meanwhile;
 * - a peer joins, changes or leaves: the bio thread follows the folders by itself and sends finished changes
 *   (zk/subscriptions.ts), which this side applies to the table (subscriptions.ts): no JSON, no MD5, no
 *   ZooKeeper round trip decided here;
 * - the own node is deleted or its data changed from outside: the registration puts it right.
 * A user's event listener that throws is logged and counted; the other listeners and the table still get
 * the change (listeners.ts).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Bio } from '../bio/bio.js';
import { BioError } from '../bio/protocol.js';
import { monoNow } from '../clock.js';
import { QueueFullError, ZkbioError } from '../errors.js';
import { emitEach } from '../listeners.js';
import { createLogger } from '../log.js';
import { createMetrics, type Metrics, type SessionState } from '../metrics.js';
import { Nodes, type NodesChange } from '../nodes/table.js';
import type { ZkNode } from '../nodes/validate.js';
import type { BioRecord } from '../ring/codec.js';
import { Cmd, type SessionEvent } from '../zk/commands.js';
import type { ZkHandlerOptions } from '../zk/handler.js';
import { assertLibraryShape } from '../zk/nzk-internals.js';
import type { BadPeer } from './bad_peers.js';
import type { ZkbioConfig } from './config.js';
import { authString } from './config_values.js';
import { OwnRegistration } from './registration.js';
import { RETRY_MAX_MS } from './retry.js';
import { SubscribedTypes } from './subscriptions.js';

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

const HANDLER_URL = new URL('../zk/handler.js', import.meta.url);

export class ZkClient extends EventEmitter<ZkClientEvents> {
  readonly nodes: Nodes;
  readonly metrics: Metrics;
  readonly config: ZkbioConfig;
  private readonly logger: Logger;
  private readonly bio: Bio;
  private readonly subscriptions: SubscribedTypes;
  private readonly onAck = new Map<number, (ack: BioRecord) => void>();
  /**
   * This slice's acks by cmd, added to acksTotal when the slice ends: a labelled inc per ack hashed its labels
   * thousands of times in a resync. Nothing reads the metrics within a slice, so a scrape sees the same counts.
   */
  private readonly sliceAcks = new Uint32Array(256);
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
    this.subscriptions = new SubscribedTypes({
      nodes: this.nodes,
      metrics: this.metrics,
      logger: this.logger,
      nodesRoot: config.zookeeper.nodesRoot,
      types: config.zookeeper.subscribeNodeTypes,
      queue: (cmd, path, value, done) => this.queue(cmd, path, value, [], done),
      later: (ms, fn) => this.later(ms, fn),
    });
    for (const type of config.zookeeper.subscribeNodeTypes)
      this.countServed(type, this.nodes.list(type).length);
    const handlerOptions: ZkHandlerOptions = {
      servers: config.zookeeper.servers,
      sessionTimeoutMs: config.zookeeper.sessionTimeoutMs,
      connectTimeoutMs: config.zookeeper.connectTimeoutMs,
      callTimeoutMs: config.zookeeper.callTimeoutMs,
      auth: config.zookeeper.auth ? authString(config.zookeeper.auth) : null,
      vnodeCount: this.nodes.vnodeCount,
      maxNodeBytes: config.zookeeper.maxNodeBytes,
      maxPointBytes: config.bio.ackRingBytes / 4,
      persistentWatches: config.zookeeper.persistentWatches,
    };
    this.bio = new Bio({
      handler: HANDLER_URL,
      handlerOptions,
      processAck: (ack) => this.processAck(ack),
      maxAcksPerTick: config.bio.maxAcksPerTick,
      tickMs: config.bio.tickMs,
      doorbell: config.bio.doorbell,
      onSlice: (ms) => this.endSlice(ms),
      // Nodes.upsert copies the points an EV_NODE_SET brings before processAck returns.
      ackWordsView: true,
      taskRingBytes: config.bio.taskRingBytes,
      ackRingBytes: config.bio.ackRingBytes,
      logger: this.logger,
    });
    this.registration = new OwnRegistration({
      config,
      metrics: this.metrics,
      logger: this.logger,
      maxTaskBytes: this.bio.maxTaskBytes,
      queue: (cmd, path, value, values, done) => this.queue(cmd, path, value, values, done),
      later: (ms, fn) => this.later(ms, fn),
      canRun: () => this._state === 'CONNECTED' && !this.stopping,
      onRegistered: (path) => this.emitSafely('registered', path),
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
    return this.subscriptions.badPeers;
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
    while (!(this.healthy && this.subscriptions.synced)) {
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
    this.sliceAcks[ack.cmd]++;
    if (ack.id !== 0) {
      const done = this.onAck.get(ack.id);
      this.onAck.delete(ack.id);
      done?.(ack);
    } else if (!this.subscriptions.apply(ack)) this.onEvent(ack);
  }

  /** After each drain slice: its duration, its acks, and the table's version once. */
  private endSlice(ms: number): void {
    this.metrics.drainSliceDuration.observe(ms / 1000);
    const counts = this.sliceAcks;
    for (let cmd = 0; cmd < counts.length; cmd++) {
      if (counts[cmd] === 0) continue;
      this.metrics.acksTotal.inc({ cmd: cmdName(cmd) }, counts[cmd]);
      counts[cmd] = 0;
    }
    this.metrics.tableVersion.set(this.nodes.version);
  }

  /** Session events, and watch events of the own node. */
  private onEvent(ack: BioRecord): void {
    switch (ack.cmd) {
      case Cmd.EV_SESSION:
        this.onSession(ack.value as SessionEvent, ack.result, ack.errName);
        break;
      case Cmd.EV_DATA_CHANGED:
      case Cmd.EV_DELETED:
        // stop() closing the session deletes the own node too: that is no reason to register again.
        if (!this.stopping) this.registration.onOwnNodeEvent(ack.path, ack.cmd === Cmd.EV_DELETED);
        break;
    }
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
        this.subscriptions.resyncAll();
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

  private onBioCrash(): void {
    // Acks for every task the thread had are WorkerCrashed; the new thread opens a new session by itself
    // only if asked: connect again, and the CONNECTED event re-registers and resyncs.
    this.logger.error('bio thread crashed; reconnecting once it restarts');
    this.registration.onThreadCrash();
    this.sessionId = null;
    this.subscriptions.reset();
    this.setState('CONNECTING');
    this.connect();
  }

  // Indexed loops: this runs once per applied ack, and for-of left an iterator per loop in the profile.
  private reportChange(change: NodesChange): void {
    const { removed, added, changed } = change;
    for (let i = 0; i < removed.length; i++) this.emitSafely('removed', removed[i]);
    for (let i = 0; i < added.length; i++) this.emitSafely('added', added[i]);
    for (let i = 0; i < changed.length; i++) this.emitSafely('changed', changed[i]);
    for (let i = 0; i < removed.length; i++) this.countServed(removed[i].type, -1);
    for (let i = 0; i < added.length; i++) this.countServed(added[i].type, 1);
  }

  /** Emits to each listener in turn; one that throws is logged and counted, and the rest still run. */
  private emitSafely<K extends keyof ZkClientEvents>(event: K, ...args: ZkClientEvents[K]): void {
    emitEach(this, event, args, (err) => {
      this.metrics.listenerErrorsTotal.inc({ event });
      this.logger.error({ err, event }, 'a discovery event listener threw');
    });
  }

  /** Moves the table-size gauge of a subscribed type by `delta` (a changed node keeps its folder's type). */
  private countServed(type: string, delta: number): void {
    if (!this.config.zookeeper.subscribeNodeTypes.includes(type)) return;
    const n = (this.served.get(type) ?? 0) + delta;
    this.served.set(type, n);
    this.metrics.tableNodes.set({ type }, n);
  }

  private setState(state: SessionState): void {
    const previous = this._state;
    this._state = state;
    this.metrics.setSessionState(state);
    if (state !== previous) this.emitSafely('state', state, previous);
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
