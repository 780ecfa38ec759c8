/**
 * ZkClient: discovery on the main thread. It never calls ZooKeeper itself: it queues tasks on the Bio and
 * applies what comes back (acks and watch/session events, in ZooKeeper's order) to the node table.
 *
 * Session states: CONNECTING → CONNECTED ⇄ SUSPENDED (disconnected; the session may live) → EXPIRED (a new
 * session is opened) …; AUTH_FAILED; CLOSED after stop(). Healthy means CONNECTED and registered.
 *
 * What happens when:
 * - a new session connects (the first, or after expiry): register (protected create; see the handler), then
 *   a resync of every subscribed type (SUBSCRIBE, see subscriptions.ts);
 * - the same session reconnects: a resync too, since events may have been merged or lost meanwhile;
 * - a peer joins, changes or leaves: the bio thread follows the folders by itself and sends finished changes
 *   (zk/subscriptions.ts), which this side applies to the table (subscriptions.ts): no JSON, no MD5, no
 *   ZooKeeper round trip decided here;
 * - the own node is deleted or its data changed from outside: its WATCH reports it, and it registers again.
 * A user's event listener that throws is logged and counted; the other listeners and the table still get
 * the change (listeners.ts).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Bio } from '../bio/bio.js';
import { BioError } from '../bio/protocol.js';
import { monoNow } from '../clock.js';
import { QueueFullError } from '../errors.js';
import { emitEach } from '../listeners.js';
import { createLogger } from '../log.js';
import { createMetrics, type Metrics, type SessionState } from '../metrics.js';
import { Nodes, type NodesChange } from '../nodes/table.js';
import type { ZkNode } from '../nodes/validate.js';
import type { BioRecord } from '../ring/codec.js';
import { Cmd, type SessionEvent } from '../zk/commands.js';
import type { ZkHandlerOptions } from '../zk/handler.js';
import type { ZkbioConfig } from './config.js';
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
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

export class ZkClient extends EventEmitter<ZkClientEvents> {
  readonly nodes: Nodes;
  readonly metrics: Metrics;
  readonly config: ZkbioConfig;
  private readonly logger: Logger;
  private readonly bio: Bio;
  private readonly subscriptions: SubscribedTypes;
  private readonly onAck = new Map<number, (ack: BioRecord) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * Serving nodes per subscribed type, for the table-size gauge, kept from the table's change events: listing
   * the table on every change cost O(nodes) per ack, about 0.1 ms each at 1,000 peers.
   */
  private readonly served = new Map<string, number>();
  private _state: SessionState = 'CONNECTING';
  private _self: string | null = null;
  private sessionId: string | null = null;
  private registering = false;
  private registerFailures = 0;
  private payload: string | null = null;
  private payloadDirty = false;
  private payloadTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;

  constructor(config: ZkbioConfig, opts: ZkClientOptions = {}) {
    super();
    this.config = config;
    this.logger = opts.logger ?? createLogger({ level: config.zookeeper.logLevel });
    this.metrics = opts.metrics ?? createMetrics();
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
      auth: config.zookeeper.auth ? `${config.zookeeper.auth.user}:${config.zookeeper.auth.password}` : null,
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
      taskRingBytes: config.bio.taskRingBytes,
      ackRingBytes: config.bio.ackRingBytes,
      logger: this.logger.child({ component: 'bio' }),
    });
    this.bio.on('crash', () => this.onBioCrash());
    this.bio.on('failed', (err) => {
      this.logger.fatal({ err }, 'the bio thread kept crashing; discovery has stopped');
      this._self = null;
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
    return this._self;
  }

  /** Connected and registered: what /healthz reports as 200. */
  get healthy(): boolean {
    return this._state === 'CONNECTED' && this._self !== null;
  }

  /** Starts the bio thread and the session. Resolves once the thread runs; the session connects in the background. */
  async start(): Promise<void> {
    await this.bio.start();
    this.connect();
    this.payloadTimer = setInterval(() => this.flushPayload(), this.config.zookeeper.payloadIntervalMs);
    this.payloadTimer.unref();
  }

  /** Resolves when the session is connected, the own node registered and every type listed once. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.healthy && this.subscriptions.synced)) {
      if (this.stopping) throw new Error('ZkClient stopped before it was ready');
      if (Date.now() > deadline)
        throw new Error(`ZkClient not ready after ${timeoutMs} ms (state ${this._state})`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * The load report written to the payload node: at most once per `zookeeper.payload_interval`, and only
   * while connected and registered (the latest report wins).
   */
  setPayload(report: unknown): void {
    this.payload = JSON.stringify(report);
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
    this._self = null;
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

  private register(): void {
    if (this.registering || this._self !== null || this.stopping) return;
    this.registering = true;
    const { serverName, nodeType, nodeHost, nodePort, workerCnt, zookeeper } = this.config;
    const prefix = `${zookeeper.nodesRoot}/${nodeType}/${serverName}-${nodeType}`;
    // kimserver's JSON: port as a string, active_time as float epoch seconds. The handler fills in `path`.
    const data = {
      type: nodeType,
      host: nodeHost,
      port: String(nodePort),
      worker_cnt: workerCnt,
      active_time: Date.now() / 1000,
    };
    const sessionId = this.sessionId;
    this.queue(
      Cmd.REGISTER,
      prefix,
      JSON.stringify(data),
      [`${zookeeper.payloadRoot}/${nodeType}`, this.payload ?? '{}'],
      (ack) => {
        this.registering = false;
        if (sessionId !== this.sessionId) return; // a registration of a session that is gone
        if (ack.error === 0) {
          this._self = ack.result;
          this.registerFailures = 0;
          this.metrics.registrationsTotal.inc();
          this.logger.info({ path: ack.result, sessionId }, 'registered');
          this.emitSafely('registered', ack.result);
          this.watchSelf();
          return;
        }
        if (ack.error === BioError.Cancelled || ack.error === BioError.WorkerCrashed) return;
        const delay = Math.min(RETRY_MIN_MS * 2 ** this.registerFailures++, RETRY_MAX_MS);
        this.logger.warn({ error: ack.errName, detail: ack.result, retryInMs: delay }, 'registration failed');
        this.later(delay, () => {
          if (this._state === 'CONNECTED') this.register();
        });
      },
    );
  }

  /** An exists watch on the own node: if anyone deletes it, the node registers again at once. */
  private watchSelf(): void {
    if (this._self) this.queue(Cmd.WATCH, this._self, '', [], () => {});
  }

  private flushPayload(): void {
    if (!this.payloadDirty || !this.healthy || this.payload === null) return;
    const self = this._self as string;
    this.payloadDirty = false;
    const path = `${this.config.zookeeper.payloadRoot}/${this.config.nodeType}/${self.slice(self.lastIndexOf('/') + 1)}`;
    this.queue(Cmd.SET_DATA, path, this.payload, [], (ack) => {
      if (ack.error !== 0 && ack.error !== BioError.Cancelled) {
        this.payloadDirty = true; // try again next interval
        this.logger.debug({ path, error: ack.errName }, 'payload write failed');
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
    } else if (!this.subscriptions.apply(ack)) this.onEvent(ack);
    this.metrics.tableVersion.set(this.nodes.version);
  }

  /** Session events, and watch events of the own node. */
  private onEvent(ack: BioRecord): void {
    switch (ack.cmd) {
      case Cmd.EV_SESSION:
        this.onSession(ack.value as SessionEvent, ack.result, ack.errName);
        break;
      case Cmd.EV_DATA_CHANGED:
        if (ack.path === this._self) this.watchSelf(); // that change used up the own node's watch
        break;
      case Cmd.EV_DELETED: {
        // stop() closing the session deletes the own node too: that is no reason to warn or register again.
        if (ack.path === this._self && !this.stopping) {
          this.logger.warn({ path: ack.path }, 'own registration deleted from outside; registering again');
          this._self = null; // unhealthy until registered again
          this.register();
        }
        break;
      }
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
        if (newSession) {
          this.sessionId = sessionId;
          this._self = null;
          this.registering = false;
        }
        this.setState('CONNECTED');
        this.register();
        this.watchSelf();
        this.subscriptions.resyncAll();
        return;
      }
      case 'DISCONNECTED':
        this.logger.warn({ sessionId: this.sessionId }, 'ZooKeeper connection lost; the session may resume');
        this.setState('SUSPENDED');
        return;
      case 'EXPIRED':
        this.logger.warn({ sessionId: this.sessionId }, 'ZooKeeper session expired; opening a new one');
        this.metrics.sessionExpiriesTotal.inc();
        this._self = null;
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
    this._self = null;
    this.sessionId = null;
    this.subscriptions.reset();
    this.setState('CONNECTING');
    this.connect();
  }

  private reportChange(change: NodesChange): void {
    for (const node of change.removed) this.emitSafely('removed', node);
    for (const node of change.added) this.emitSafely('added', node);
    for (const c of change.changed) this.emitSafely('changed', c);
    for (const node of change.removed) this.countServed(node.type, -1);
    for (const node of change.added) this.countServed(node.type, 1);
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

  /** Ring depths for metrics. */
  refreshQueueMetrics(): void {
    const d = this.bio.queueDepths();
    this.metrics.ringUsedBytes.set({ ring: 'task' }, d.tasks);
    this.metrics.ringUsedBytes.set({ ring: 'ack' }, d.acks);
  }
}

const CMD_NAMES = new Map<number, string>(Object.entries(Cmd).map(([k, v]) => [v, k]));
function cmdName(cmd: number): string {
  return CMD_NAMES.get(cmd) ?? String(cmd);
}
