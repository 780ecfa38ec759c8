// A worker's copy of the primary's table: it applies the primary's messages in order, and when it
// finds a gap it asks for a snapshot (SYNC) and ignores deltas until one comes. joinNodeTable()
// makes one from the primary's first snapshot.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { emitEach } from '../listeners.js';
import { createLogger } from '../log.js';
import type { NodesChange } from '../nodes/table.js';
import { Nodes } from '../nodes/table.js';
import type { ZkNode } from '../nodes/validate.js';
import { applyMessage } from './apply.js';
import type { ClusterStatus, PrimaryMessage, SnapshotMessage, SyncMessage } from './protocol.js';
import { isClusterMessage } from './protocol.js';

/** The channel to the primary: a node:cluster worker's `process`, or anything shaped like it. */
export interface Channel {
  send(msg: SyncMessage): unknown;
  on(event: 'message', listener: (msg: unknown) => void): unknown;
  off(event: 'message', listener: (msg: unknown) => void): unknown;
}

export interface ReplicaEvents {
  /** A node now serves in the table. */
  added: [node: ZkNode];
  /** A node no longer serves. */
  removed: [node: ZkNode];
  /** A serving node's data changed. */
  changed: [change: { old: ZkNode; new: ZkNode }];
  /** The primary's session status changed. */
  status: [status: ClusterStatus, previous: ClusterStatus];
}

export interface ReplicaOptions {
  /** How often an unanswered SYNC is repeated (ms). */
  retryMs: number;
  /** Where a listener that threw is logged (a pino logger at warn by default). */
  logger?: Logger;
}

function readStatus(raw: unknown): ClusterStatus | undefined {
  const s = raw as Partial<ClusterStatus> | null;
  if (typeof s !== 'object' || s === null || typeof s.state !== 'string' || typeof s.healthy !== 'boolean')
    return undefined;
  if (s.self !== null && typeof s.self !== 'string') return undefined;
  return { state: s.state, self: s.self, healthy: s.healthy };
}

const sameStatus = (a: ClusterStatus, b: ClusterStatus): boolean =>
  a.state === b.state && a.self === b.self && a.healthy === b.healthy;

export class Replica extends EventEmitter<ReplicaEvents> {
  /** The table; read it, do not write it (the next snapshot would undo that). */
  readonly nodes: Nodes;
  #status: ClusterStatus;
  readonly #channel: Channel;
  readonly #onMessage = (msg: unknown): void => {
    if (isClusterMessage(msg) && msg.kind !== 'SYNC') this.receive(msg);
  };
  readonly #retryMs: number;
  readonly #logger: Logger;
  #listenerErrors = 0;
  /** A SYNC is out: deltas are ignored until the answer comes. */
  #syncing = false;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  /** Built from the primary's first snapshot, so the table has the primary's ring layout from the start. */
  constructor(first: SnapshotMessage, channel: Channel, opts: ReplicaOptions) {
    super();
    this.nodes = new Nodes({ vnodeCount: first.snapshot.vnodeCount, hash: first.snapshot.hash });
    if (applyMessage(this.nodes, first) !== 'applied') throw new TypeError('the first snapshot is malformed');
    this.#status = readStatus(first.status) ?? { state: 'CONNECTING', self: null, healthy: false };
    this.#channel = channel;
    this.#retryMs = opts.retryMs;
    this.#logger = opts.logger ?? createLogger({ level: 'warn' });
    this.nodes.on('change', (c) => this.#report(c));
    channel.on('message', this.#onMessage);
  }

  get status(): ClusterStatus {
    return this.#status;
  }

  /** Event listeners that threw (each was logged; the table and the other listeners still got the change). */
  get listenerErrors(): number {
    return this.#listenerErrors;
  }

  /** Handles one message from the primary. */
  receive(msg: PrimaryMessage): void {
    if (this.#closed) return;
    if (msg.kind === 'SNAPSHOT' || msg.kind === 'STATUS') this.#setStatus(msg.status);
    // While a SYNC is out only its answer matters: a snapshot, or a STATUS saying we are current.
    if (this.#syncing && msg.kind !== 'SNAPSHOT' && msg.kind !== 'STATUS') return;
    const result = applyMessage(this.nodes, msg);
    // A gap seen while a SYNC is out is what the answer will fix; the retry timer covers a lost one.
    if (result === 'gap' && !this.#syncing) this.sync();
    else if (result === 'applied' && this.#syncing) this.#synced();
  }

  /** Asks the primary for a snapshot unless it is at this table's version; repeated until answered. */
  sync(): void {
    if (this.#closed) return;
    this.#syncing = true;
    sendTo(this.#channel, { zkbio: 1, kind: 'SYNC', version: this.nodes.version });
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.sync(), this.#retryMs).unref();
  }

  /** Stops following the primary; the table keeps its last content. */
  close(): void {
    this.#closed = true;
    this.#channel.off('message', this.#onMessage);
    clearTimeout(this.#retry);
  }

  #synced(): void {
    this.#syncing = false;
    clearTimeout(this.#retry);
  }

  #setStatus(raw: unknown): void {
    const next = readStatus(raw);
    if (next === undefined || sameStatus(next, this.#status)) return;
    const previous = this.#status;
    this.#status = next;
    this.#emitSafely('status', next, previous);
  }

  // Indexed loops, as ZkClient's: this runs once per applied message, and for-of left iterators behind.
  #report(change: NodesChange): void {
    const { removed, added, changed } = change;
    for (let i = 0; i < removed.length; i++) this.#emitSafely('removed', removed[i]);
    for (let i = 0; i < added.length; i++) this.#emitSafely('added', added[i]);
    for (let i = 0; i < changed.length; i++) this.#emitSafely('changed', changed[i]);
  }

  /** A listener that throws must not abort the message being applied (nor reach the IPC channel's handler). */
  #emitSafely<K extends keyof ReplicaEvents>(event: K, ...args: ReplicaEvents[K]): void {
    emitEach(this, event, args, (err) => {
      this.#listenerErrors++;
      this.#logger.error({ err, event }, 'a replica event listener threw');
    });
  }
}

export function sendTo(channel: Channel, msg: SyncMessage): void {
  try {
    channel.send(msg);
  } catch {
    // The channel closed: this worker is going down, and nothing needs the answer.
  }
}
