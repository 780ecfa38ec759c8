// One worker's ordered outbox on the primary.
//
// Backpressure: worker.send() never drops a message; it returns false once Node's buffer for the
// channel passes ~128 KiB, and buffers the message anyway. A worker that stalls (busy loop, SIGSTOP,
// swap) during a storm would therefore make the primary buffer every delta, without limit. So once a
// send reports "busy", further messages wait here until the writes already handed to Node complete,
// and a backlog that grows past the size of the table is replaced by one snapshot, taken when it is
// finally sent. A short backlog stays deltas, which are cheaper than a snapshot; a long one costs at
// most one table's worth of memory and one restore, and a stalled worker loses nothing either way.
import type { PrimaryMessage, SnapshotMessage } from './protocol.js';

/** A channel to one worker, e.g. a cluster Worker's send(). */
export interface Link {
  /**
   * Sends msg; `done` runs later (never inside send), once msg is written or failed. False: the
   * channel is busy, and msg is buffered all the same.
   */
  send(msg: PrimaryMessage, done: (err: Error | null) => void): boolean;
}

export class Outbox {
  readonly #link: Link;
  readonly #snapshot: () => SnapshotMessage;
  readonly #maxBacklog: () => number;
  /** Sends handed to the link whose `done` has not run. */
  #inflight = 0;
  /** The last send returned false: hold messages until #inflight drains. */
  #busy = false;
  #dead = false;
  #backlog: PrimaryMessage[] = [];
  /** A snapshot supersedes the backlog; it is taken when sent, so it is as fresh as can be. */
  #wantSnapshot = false;

  constructor(link: Link, snapshot: () => SnapshotMessage, maxBacklog: () => number) {
    this.#link = link;
    this.#snapshot = snapshot;
    this.#maxBacklog = maxBacklog;
  }

  /** Messages waiting for the channel (a pending snapshot counts as one). */
  get backlog(): number {
    return this.#backlog.length + (this.#wantSnapshot ? 1 : 0);
  }

  push(msg: PrimaryMessage): void {
    if (this.#dead) return;
    if (!this.#busy) {
      this.#send(msg);
      return;
    }
    if (this.#wantSnapshot) return;
    this.#backlog.push(msg);
    if (this.#backlog.length > this.#maxBacklog()) this.#coalesce();
  }

  /** Sends a snapshot after everything already sent; anything still waiting is dropped, it covers that. */
  pushSnapshot(): void {
    if (this.#dead) return;
    if (this.#busy) this.#coalesce();
    else this.#send(this.#snapshot());
  }

  #coalesce(): void {
    this.#backlog = [];
    this.#wantSnapshot = true;
  }

  #send(msg: PrimaryMessage): void {
    this.#inflight++;
    let ok: boolean;
    try {
      ok = this.#link.send(msg, (err) => this.#done(err));
    } catch {
      // The channel is gone (the worker is exiting); its 'exit' will drop this outbox.
      this.#dead = true;
      return;
    }
    if (!ok) this.#busy = true;
  }

  #done(err: Error | null): void {
    this.#inflight--;
    if (err) {
      this.#dead = true;
      this.#backlog = [];
      return;
    }
    if (this.#inflight > 0 || !this.#busy) return;
    this.#busy = false;
    if (this.#wantSnapshot) {
      this.#wantSnapshot = false;
      this.#backlog = [];
      this.#send(this.#snapshot());
    }
    let i = 0;
    while (!this.#busy && !this.#dead && i < this.#backlog.length) this.#send(this.#backlog[i++]);
    this.#backlog.splice(0, i);
  }
}
