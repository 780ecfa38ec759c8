/**
 * The worker's single writer into the ack ring. Acks and events go out in the order they are written; when
 * the ring is full they wait in a backlog (never dropped) and a flusher waits for room on the ring's doorbell.
 * A record that could never fit is shrunk to a RecordTooLarge failure rather than thrown: a throw here would
 * kill the thread (or, from the flusher, strand every later ack), and what it carries comes from ZooKeeper,
 * where any peer can make a node's data or a folder's listing as large as it likes.
 */
import { monoNow } from '../clock.js';
import { type BioRecord, encodedSize, tryPushRecord } from '../ring/codec.js';
import type { ByteRing } from '../ring/ring.js';
import { BioError, bioErrorName } from './protocol.js';

/**
 * When records reach the main side. The first record of a turn (one callback of this thread's event loop, with
 * the microtasks it starts) is published at once, waking the consumer: a lone ack, a watch event's change, waits
 * for nothing. The records after it in the turn are published in batches of PUBLISH_EVERY (a burst pays the
 * ring's publish once per batch), and wake a sleeping consumer only once WAKE_AT of them wait; the turn's end
 * (a setImmediate) publishes the rest and wakes it.
 * Why not wake per batch: in a resync the main side drained each batch at once and slept again, and each of its
 * wakes took a core from this thread (two cores, shared with ZooKeeper). A resync of 5,000 peers in a fresh
 * process, with turns that ended at the next microtask and a wake per batch: 650-1,070 wakes; as here: 90-130,
 * and a median of 1,024 ms and 1,428 ms of CPU against 1,072 and 1,518 (9 runs each, alternating).
 * (Publishing the first record after its microtasks instead measured 50-70 µs later: the microtasks queued
 * before it ran first.)
 */
const PUBLISH_EVERY = 16;
/** A main-side slice's worth of acks (the Bio's maxAcksPerTick default). */
const WAKE_AT = 100;

export class AckWriter {
  private readonly backlog: BioRecord[] = [];
  private flushing: Promise<void> | null = null;
  private batched = 0;
  /** A record was published at once this turn; the turn's end publishes the rest. */
  private inTurn = false;

  constructor(private readonly ring: ByteRing) {}

  /**
   * Stamps `doneAt` and queues the record. Resolves once it is in the ring, so a task loop feels backpressure;
   * the consumer sees it once it is published (see PUBLISH_EVERY), by the turn's end or drained() at the latest.
   */
  write(record: BioRecord): Promise<void> {
    record.doneAt = monoNow();
    let size = encodedSize(record);
    if (size > this.ring.maxRecordBytes) {
      shrink(record, size, this.ring.maxRecordBytes);
      size = encodedSize(record);
    }
    if (this.backlog.length === 0 && this.push(record, size)) return Promise.resolve();
    this.backlog.push(record);
    this.flushing ??= this.flush();
    return this.flushing;
  }

  /** Encodes the record into the ring, unpublished; false when there is no room now. */
  private push(record: BioRecord, size: number): boolean {
    if (!tryPushRecord(this.ring, record, size, false)) return false;
    if (!this.inTurn) {
      this.inTurn = true;
      setImmediate(this.endTurn);
      this.publish(true);
    } else if (++this.batched >= PUBLISH_EVERY) this.publish(this.ring.pendingRecords() >= WAKE_AT);
    return true;
  }

  private publish(wake: boolean): void {
    this.batched = 0;
    this.ring.publish(wake);
  }

  private readonly endTurn = (): void => {
    this.inTurn = false;
    this.publish(true);
  };

  /**
   * Resolves when everything written so far is in the ring and published. The thread's last call: the turn's
   * end is a setImmediate, and a thread that returns before it runs may be torn down with records unpublished.
   */
  drained(): Promise<void> {
    if (this.flushing === null) {
      this.publish(true);
      return Promise.resolve();
    }
    return this.flushing.then(() => this.publish(true));
  }

  private async flush(): Promise<void> {
    let i = 0;
    while (i < this.backlog.length) {
      // Wait before trying: write() has just found no room, and this await also guarantees that write()'s
      // `flushing ??= flush()` has stored this promise before the end of this function clears it. A flush
      // that could finish synchronously cleared `flushing` first and then had it set to its settled
      // promise, so no later write started a flush and the backlog (acks included) was stranded.
      await this.ring.waitForRoom(encodedSize(this.backlog[i]), 100);
      while (i < this.backlog.length && this.push(this.backlog[i], encodedSize(this.backlog[i]))) i++;
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
  record.error = BioError.RecordTooLarge;
  record.errName = bioErrorName[BioError.RecordTooLarge];
  record.result = String(size);
}
