// The primary's side of the protocol, without any transport: turns the table's steps into ADD/DEL
// messages for every joined worker, and answers SYNC. shareNodeTable() connects it to node:cluster.

import { type NodesSnapshot, toRow } from '../nodes/snapshot.js';
import type { Nodes, NodesStep } from '../nodes/table.js';
import { type Link, Outbox } from './outbox.js';
import { encodePoints } from './points.js';
import type { ClusterStatus, PrimaryMessage, SnapshotMessage, WorkerMessage } from './protocol.js';

export class TableFeed {
  readonly #nodes: Nodes;
  readonly #status: () => ClusterStatus;
  /** Workers that joined (sent a SYNC), in join order. */
  readonly #outboxes = new Map<Link, Outbox>();
  readonly #onStep = (step: NodesStep) => this.#broadcast(step);
  // The version names the content exactly: it goes up on every change to the stored entries. Held weakly: it is
  // a second copy of the table (the points as base64, about 11 MB at 5,000 peers), needed only while sent.
  #lastSnapshot: WeakRef<{ snapshot: NodesSnapshot; points: (string | null)[] }> | undefined;

  constructor(nodes: Nodes, status: () => ClusterStatus) {
    this.#nodes = nodes;
    this.#status = status;
    nodes.on('step', this.#onStep);
  }

  /** Joined workers. */
  get size(): number {
    return this.#outboxes.size;
  }

  /** Messages waiting for busy channels, summed over workers (for tests and metrics). */
  get backlog(): number {
    let n = 0;
    for (const o of this.#outboxes.values()) n += o.backlog;
    return n;
  }

  /** A message from the worker behind `link`. A SYNC joins it, and is answered in order after what was sent. */
  receive(link: Link, msg: WorkerMessage): void {
    if (msg.kind !== 'SYNC') return;
    let outbox = this.#outboxes.get(link);
    if (outbox === undefined) {
      // A backlog longer than the table costs more than the snapshot that replaces it.
      outbox = new Outbox(
        link,
        () => this.snapshot(),
        () => Math.max(64, this.#nodes.size),
      );
      this.#outboxes.set(link, outbox);
    }
    if (msg.version === this.#nodes.version) outbox.push(this.#statusMessage());
    else outbox.pushSnapshot();
  }

  /** Forgets a worker (it exited). */
  drop(link: Link): void {
    this.#outboxes.delete(link);
  }

  /** Sends STATUS to every joined worker: on status changes, and as the heartbeat. */
  sendStatus(): void {
    const msg = this.#statusMessage();
    for (const outbox of this.#outboxes.values()) outbox.push(msg);
  }

  /** The table and status now. Workers joining together, or a reset, share one table snapshot per version. */
  snapshot(): SnapshotMessage {
    let last = this.#lastSnapshot?.deref();
    if (last?.snapshot.version !== this.#nodes.version) {
      const snapshot = this.#nodes.snapshot();
      const points = snapshot.nodes.map(([path]) => encodePoints(this.#nodes.memberPoints(path)) ?? null);
      last = { snapshot, points };
      this.#lastSnapshot = new WeakRef(last);
    }
    const { snapshot, points } = last;
    return { zkbio: 1, kind: 'SNAPSHOT', snapshot, points, status: this.#status() };
  }

  close(): void {
    this.#nodes.off('step', this.#onStep);
    this.#outboxes.clear();
    this.#lastSnapshot = undefined;
  }

  #statusMessage(): PrimaryMessage {
    return { zkbio: 1, kind: 'STATUS', version: this.#nodes.version, status: this.#status() };
  }

  #broadcast(step: NodesStep): void {
    if (this.#outboxes.size === 0) return;
    if (step.op === 'reset') {
      for (const outbox of this.#outboxes.values()) outbox.pushSnapshot();
      return;
    }
    // One message object for every worker: Node serialises it per send.
    const msg: PrimaryMessage =
      step.op === 'set'
        ? {
            zkbio: 1,
            kind: 'ADD',
            version: step.version,
            node: toRow(step.node),
            points: encodePoints(this.#nodes.memberPoints(step.node.path)),
          }
        : { zkbio: 1, kind: 'DEL', version: step.version, path: step.path };
    for (const outbox of this.#outboxes.values()) outbox.push(msg);
  }
}
