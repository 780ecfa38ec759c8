/**
 * A single-producer, single-consumer ring of variable-length byte records over a SharedArrayBuffer.
 *
 * Layout (byte offsets in the SharedArrayBuffer):
 *   0    head        consumer's read index       (written by the consumer only)
 *   4    popped      records consumed, mod 2^32  (consumer only)
 *   64   tail        producer's write index      (written by the producer only)
 *   68   pushed      records produced, mod 2^32  (producer only)
 *   128  consumerSleeping   1 while the consumer waits for data
 *   132  consumerBell       wake count mod 2^32: what the consumer waits on  (bumped by whoever wakes it)
 *   192  producerSleeping   1 while the producer waits on `head` for room
 *   256  data        `capacity` bytes
 * Head and tail live 64 bytes apart so two spinning threads never share a cache line.
 *
 * Invariants:
 *   - capacity is a power of two, ≥ 64 and ≤ 2^30. head and tail are free-running byte counters mod 2^32;
 *     a position in `data` is `index & (capacity - 1)`, and `(tail - head) >>> 0` is the bytes in use,
 *     never more than capacity.
 *   - Every record starts at a 4-byte aligned position with a 4-byte little-endian header: the payload
 *     length L, then L payload bytes, padded to 4. A record never straddles the end of `data`: when the
 *     bytes left before the end are too few, the producer writes the header WRAP (-1) there and the record
 *     starts again at position 0; the skipped bytes count as used until the consumer passes them.
 *     Payloads are therefore always contiguous, so a decoder never sees a UTF-8 sequence split by the wrap.
 *   - A payload of at most `maxRecordBytes` (capacity / 2 - 4) always fits once the ring is empty, whatever
 *     the position; a larger one could wait forever, so it is refused with RecordTooLargeError.
 *   - The producer publishes `tail` with Atomics.store only after the record's bytes are written; the
 *     consumer publishes `head` only after it has finished reading. Seq-cst Atomics order the plain reads
 *     and writes of `data` around them.
 *   - Doorbells: a side that wants to sleep sets its sleeping word, reads the word it will wait on, re-checks
 *     the ring, and only then waits (on `consumerBell` for data, on `head` for room). The other side wakes it
 *     after publishing, and only if it wins the compare-exchange of the sleeping word from 1 to 0, so a burst
 *     costs one notify, not one per record. A producer may publish without waking (`publish(false)`); the
 *     next `publish(true)` then wakes, even with nothing new, so no record is left unannounced.
 *   - Every wake changes the word its sleeper waits on before it notifies: a drain that notifies has moved
 *     `head`, and a wake of the consumer bumps `consumerBell`. A wake that lands between the sleeper's
 *     re-check and its wait then makes the wait return at once ("not-equal") instead of being lost. Waiting
 *     on `tail` was not enough: a wake with nothing new (the announcement above, or wakeConsumer) left `tail`
 *     as it was and cleared the sleeping word, so the consumer slept on with no one left to wake it.
 *   - `tryPush` and `drain` never block.
 */
import { RecordTooLargeError } from '../errors.js';

const HEAD = 0;
const POPPED = 1;
const TAIL = 16;
const PUSHED = 17;
const CONSUMER_SLEEPING = 32;
const CONSUMER_BELL = 33;
const PRODUCER_SLEEPING = 48;
const DATA_OFFSET = 256;
const HEADER = 4;
const WRAP = -1;

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/**
 * Called once per drained record; `offset` and `length` locate the payload in `ring.buffer`, valid only during
 * the call. Returning `false` ends the drain after this record (e.g. when a time budget is spent).
 */
export type RecordVisitor = (buffer: Buffer, offset: number, length: number) => unknown;

export class ByteRing {
  /** Allocates the shared memory for a ring of `capacity` data bytes (rounded up to a power of two). */
  static allocate(capacity: number): SharedArrayBuffer {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity > 2 ** 30) {
      throw new RangeError(`ring capacity must be an integer from 64 to 2^30 bytes, got ${capacity}`);
    }
    const pow2 = 2 ** Math.ceil(Math.log2(capacity));
    return new SharedArrayBuffer(DATA_OFFSET + pow2);
  }

  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  readonly maxRecordBytes: number;
  /** The data area as a Buffer, for codecs that read and write in place. */
  readonly buffer: Buffer;
  private readonly ctl: Int32Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  /** A reservation in progress: its start index and the payload bytes reserved. */
  private reservedAt = -1;
  private reservedLength = 0;
  /** Producer: the write index including committed records not yet published, and how many those are. */
  private writeTail: number;
  private unpublished = 0;
  /** Records were published by `publish(false)` and the consumer may not know: the next publish(true) wakes it. */
  private unannounced = false;

  constructor(sab: SharedArrayBuffer) {
    const capacity = sab.byteLength - DATA_OFFSET;
    if (capacity < 64 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`not a ring buffer: ${sab.byteLength} bytes`);
    }
    this.sab = sab;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxRecordBytes = capacity / 2 - HEADER;
    this.ctl = new Int32Array(sab, 0, DATA_OFFSET / 4);
    this.words = new Int32Array(sab, DATA_OFFSET, capacity / 4);
    this.buffer = Buffer.from(sab, DATA_OFFSET, capacity);
    this.writeTail = Atomics.load(this.ctl, TAIL);
  }

  /** Bytes in use, wrap padding included. */
  usedBytes(): number {
    return (Atomics.load(this.ctl, TAIL) - Atomics.load(this.ctl, HEAD)) >>> 0;
  }

  /** Records pushed and not yet drained. */
  pendingRecords(): number {
    return (Atomics.load(this.ctl, PUSHED) - Atomics.load(this.ctl, POPPED)) >>> 0;
  }

  isEmpty(): boolean {
    return Atomics.load(this.ctl, TAIL) === Atomics.load(this.ctl, HEAD);
  }

  // ---- producer side ----

  /**
   * Reserves room for a payload of `length` bytes and returns its offset in `buffer`, or -1 when the ring
   * has no room now. The payload is invisible to the consumer until `commit()`. Throws RecordTooLargeError
   * for a payload that could never fit. A failure publishes (and wakes): the consumer can only make room if it
   * sees what is there. With `publishOnFail` false it does not, for a producer that will try a smaller size
   * first and would otherwise cut its batch short.
   */
  reserve(length: number, publishOnFail = true): number {
    if (length > this.maxRecordBytes) throw new RecordTooLargeError(length, this.maxRecordBytes);
    const skip = this.skipFor(length);
    if (skip === -1) {
      if (publishOnFail) this.publish();
      return -1;
    }
    const tail = this.writeTail;
    if (skip > 0) this.words[(tail & this.mask) >> 2] = WRAP;
    this.reservedAt = (tail + skip) | 0;
    this.reservedLength = length;
    return (this.reservedAt & this.mask) + HEADER;
  }

  /** The bytes to skip before a payload of `length` can be written (0, or up to the end), or -1 if it does not fit now. */
  private skipFor(length: number): number {
    const tail = this.writeTail;
    const free = this.capacity - ((tail - Atomics.load(this.ctl, HEAD)) >>> 0);
    const size = HEADER + ((length + 3) & ~3);
    const toEnd = this.capacity - (tail & this.mask);
    // A record that does not fit before the end starts again at 0: the skipped bytes and the record must both fit.
    const skip = size <= toEnd ? 0 : toEnd;
    return skip + size <= free ? skip : -1;
  }

  /**
   * Ends the reserved record, with `length` ≤ the reserved length (a codec may reserve an upper bound), and
   * publishes it, or with `publish` false leaves it for a later `publish()`: a burst then pays the
   * seq-cst store of `tail` (and the consumer's cache line moving over) once per batch, not per record.
   */
  commit(length = this.reservedLength, publish = true): void {
    const at = this.reservedAt;
    if (at === -1 || length > this.reservedLength)
      throw new Error('ByteRing.commit without a matching reserve');
    this.words[(at & this.mask) >> 2] = length;
    this.reservedAt = -1;
    this.writeTail = (at + HEADER + ((length + 3) & ~3)) | 0;
    this.unpublished++;
    if (publish) this.publish();
  }

  /**
   * Makes every committed record visible to the consumer, and wakes it if it sleeps. With `wake` false it is
   * not woken (a consumer that drains anyway sees the records): the producer's next publish(true) wakes it.
   */
  publish(wake = true): void {
    const ctl = this.ctl;
    if (this.unpublished > 0) {
      ctl[PUSHED] = (ctl[PUSHED] + this.unpublished) | 0;
      this.unpublished = 0;
      Atomics.store(ctl, TAIL, this.writeTail);
    } else if (!this.unannounced) return;
    this.unannounced = !wake;
    if (!wake) return;
    // A plain load first: the flag is mostly 0 in a burst, and a compare-exchange would take the line.
    if (
      Atomics.load(ctl, CONSUMER_SLEEPING) === 1 &&
      Atomics.compareExchange(ctl, CONSUMER_SLEEPING, 1, 0) === 1
    )
      this.ringConsumerBell();
  }

  private ringConsumerBell(): void {
    Atomics.add(this.ctl, CONSUMER_BELL, 1);
    Atomics.notify(this.ctl, CONSUMER_BELL);
  }

  /** Copies `bytes[0..length)` in as one record. False when the ring has no room now; never blocks. */
  tryPush(bytes: Uint8Array, length = bytes.length): boolean {
    const off = this.reserve(length);
    if (off === -1) return false;
    this.buffer.set(length === bytes.length ? bytes : bytes.subarray(0, length), off);
    this.commit(length);
    return true;
  }

  /** Producer: waits until a payload of `length` bytes fits, or `timeoutMs` passes. Not for the main thread. */
  async waitForRoom(length: number, timeoutMs: number): Promise<WaitResult> {
    return this.sleepOn(PRODUCER_SLEEPING, HEAD, () => this.skipFor(length) !== -1, timeoutMs);
  }

  // ---- consumer side ----

  /**
   * Hands up to `limit` records to `visit`, in order (fewer if it returns false), then publishes the new
   * head once. Returns how many records were visited. Never blocks. If `visit` throws, the records before the throwing one stay
   * consumed and the throwing one is consumed too, so a poisoned record cannot wedge the ring.
   */
  drain(limit: number, visit: RecordVisitor): number {
    const ctl = this.ctl;
    const tail = Atomics.load(ctl, TAIL);
    let head = ctl[HEAD]; // only this side writes head
    let n = 0;
    try {
      while (n < limit && head !== tail) {
        let pos = head & this.mask;
        let length = this.words[pos >> 2];
        if (length === WRAP) {
          head = (head + this.capacity - pos) | 0;
          pos = 0;
          length = this.words[0];
        }
        const at = pos + HEADER;
        head = (head + HEADER + ((length + 3) & ~3)) | 0;
        n++;
        if (visit(this.buffer, at, length) === false) break;
      }
    } finally {
      if (n > 0) {
        ctl[POPPED] = (ctl[POPPED] + n) | 0;
        Atomics.store(ctl, HEAD, head);
        if (Atomics.compareExchange(ctl, PRODUCER_SLEEPING, 1, 0) === 1) Atomics.notify(ctl, HEAD);
      }
    }
    return n;
  }

  /**
   * Consumer: resolves when a record may be ready, after `timeoutMs`, or on `wakeConsumer()`.
   * Uses Atomics.waitAsync, which keeps no thread alive by itself: the caller must hold a ref'd handle.
   * A finite `timeoutMs` costs a V8 timer task per call, run at its expiry even after a wake; a consumer woken
   * often should pass Infinity. No wake is lost, from either thread (see the invariants above).
   */
  async waitForData(timeoutMs: number): Promise<WaitResult> {
    return this.sleepOn(CONSUMER_SLEEPING, CONSUMER_BELL, () => !this.isEmpty(), timeoutMs);
  }

  /** Wakes a consumer sleeping in waitForData without a record, e.g. to make it see a stop flag. */
  wakeConsumer(): void {
    Atomics.store(this.ctl, CONSUMER_SLEEPING, 0);
    this.ringConsumerBell();
  }

  private async sleepOn(
    flag: number,
    word: number,
    ready: () => boolean,
    timeoutMs: number,
  ): Promise<WaitResult> {
    const ctl = this.ctl;
    Atomics.store(ctl, flag, 1);
    const seen = Atomics.load(ctl, word);
    // Re-check after announcing the sleep: a wake that raced with us either was seen here or changed `word`.
    if (ready()) {
      Atomics.store(ctl, flag, 0);
      return 'not-equal';
    }
    const wait = Atomics.waitAsync(ctl, word, seen, timeoutMs);
    const result = wait.async ? await wait.value : wait.value;
    Atomics.store(ctl, flag, 0);
    return result;
  }
}
