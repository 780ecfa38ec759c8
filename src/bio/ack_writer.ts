/**
 * The worker's single writer into the ack ring. Acks and events go out in the order they are written; when
 * the ring is full they wait in a backlog (never dropped) and a flusher waits for room on the ring's doorbell.
 * A record that could never fit is shrunk to a RecordTooLarge failure rather than thrown: a throw here would
 * kill the thread (or, from the flusher, strand every later ack), and what it carries comes from ZooKeeper,
 * where any peer can make a node's data or a folder's listing as large as it likes.
 */
import { monoNow } from '../clock.js';
import { type BioRecord, encodedSize, reserveSize, tryPushRecord } from '../ring/codec.js';
import type { ByteRing } from '../ring/ring.js';
import { BioError, bioErrorName } from './protocol.js';

/**
 * When records reach the main side. A turn runs from a record written with no turn open until this thread's loop
 * reaches its next check phase (a setImmediate): the callbacks of one phase of the loop, with their microtasks.
 * - The turn's first record is published at once, waking the consumer: a lone ack, a watch event's change, waits
 *   for nothing.
 * - The records after it are published without a wake every PUBLISH_EVERY (a burst pays the ring's publish once
 *   per batch) and when the microtasks that wrote them have run (a thread that dies loses no more than those). A
 *   sleeping consumer is woken once WAKE_AT records wait, and at the turn's end.
 * Why not wake per batch: in a resync the main side drained each batch at once and slept again, and each of its
 * wakes took a core from this thread (two cores, shared with ZooKeeper). A resync of 5,000 peers in a fresh
 * process, with turns that ended at the next microtask and a wake per batch: 650-1,070 wakes; as here: 120-210,
 * and a median of 657 ms and 885 ms of CPU against 687 and 955 (9 runs each, alternating).
 * (Publishing the first record after its microtasks instead measured 50-70 µs later: the microtasks queued
 * before it ran first.)
 */
const PUBLISH_EVERY = 16;
/** A main-side slice's worth of acks (the Bio's maxAcksPerTick default). */
const WAKE_AT = 100;
const RESOLVED = Promise.resolve();

export class AckWriter {
  private readonly backlog: BioRecord[] = [];
  private flushing: Promise<void> | null = null;
  private batched = 0;
  /** A turn is open: its first record was published, and its end (a setImmediate) is queued. */
  private inTurn = false;
  /** A publish without a wake is queued for the end of the running microtasks. */
  private quietPublishQueued = false;

  constructor(private readonly ring: ByteRing) {}

  /**
   * Stamps `doneAt` and queues the record. Resolves once it is in the ring, so a task loop feels backpressure;
   * the consumer can see it once the running microtasks are done at the latest (see PUBLISH_EVERY).
   */
  write(record: BioRecord): Promise<void> {
    record.doneAt = monoNow();
    let size = reserveSize(record, this.ring.maxRecordBytes);
    if (size > this.ring.maxRecordBytes) {
      shrink(record, size, this.ring.maxRecordBytes);
      size = reserveSize(record, this.ring.maxRecordBytes);
    }
    if (this.backlog.length === 0 && this.push(record, size)) return Promise.resolve();
    this.backlog.push(record);
    this.flushing ??= this.flush();
    return this.flushing;
  }

  /** Encodes the record into the ring, unpublished; false when there is no room now. `size`: its reserveSize. */
  private push(record: BioRecord, size?: number): boolean {
    if (!tryPushRecord(this.ring, record, false, size)) return false;
    if (!this.inTurn) {
      this.inTurn = true;
      setImmediate(this.endTurn);
      this.publish(true);
    } else if (++this.batched >= PUBLISH_EVERY) {
      this.publish(this.ring.pendingRecords() + this.batched >= WAKE_AT);
    } else if (!this.quietPublishQueued) {
      this.quietPublishQueued = true;
      // A settled promise's then(), not queueMicrotask(): Node wraps each of those in an AsyncResource and a bind.
      RESOLVED.then(this.publishQuietly);
    }
    return true;
  }

  private publish(wake: boolean): void {
    this.batched = 0;
    this.ring.publish(wake);
  }

  private readonly publishQuietly = (): void => {
    this.quietPublishQueued = false;
    this.publish(false);
  };

  private readonly endTurn = (): void => {
    this.inTurn = false;
    this.publish(true);
  };

  /**
   * Resolves when everything written so far is in the ring, published, and announced to a sleeping consumer.
   * The thread's last call: a thread torn down before its turn's end ran would leave the consumer unwoken.
   */
  drained(): Promise<void> {
    return (this.flushing ?? RESOLVED).then(this.announce);
  }

  private readonly announce = (): void => this.publish(true);

  private async flush(): Promise<void> {
    let i = 0;
    while (i < this.backlog.length) {
      // Wait before trying: write() has just found no room, and this await also guarantees that write()'s
      // `flushing ??= flush()` has stored this promise before the end of this function clears it. A flush
      // that could finish synchronously cleared `flushing` first and then had it set to its settled
      // promise, so no later write started a flush and the backlog (acks included) was stranded.
      await this.ring.waitForRoom(encodedSize(this.backlog[i]), 100);
      while (i < this.backlog.length && this.push(this.backlog[i])) i++;
    }
    this.backlog.length = 0;
    this.flushing = null;
  }
}

/** Turns a record too large for the ring into a small failure with the same cmd, id and (cut) path. */
function shrink(record: BioRecord, size: number, maxBytes: number): void {
  // A UTF-16 unit takes at most 3 bytes; 128 bytes are left for the header and the other fields.
  record.path = record.path.slice(0, Math.max(0, Math.floor((maxBytes - 128) / 3)));
  record.value = '';
  record.values = [];
  record.words = undefined;
  record.error = BioError.RecordTooLarge;
  record.errName = bioErrorName[BioError.RecordTooLarge];
  record.result = String(size);
}
