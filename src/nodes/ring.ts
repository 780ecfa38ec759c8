// One ketama ring: the points of every member of one node type, in sorted buckets.
//
// The 32-bit hash space is cut into 2^bits buckets by the points' top bits. Each bucket keeps its
// entries sorted by point, then insertion order, in its own stretch of one pool Uint32Array, with room
// to spare. So:
// - a lookup reads the bucket's (start, length) word pair, which sits on one cache line, and scans
//   a handful of entries instead of binary-searching ~20 cache lines of one big array;
// - a change costs in proportion to the change: inserting or removing a point shifts the few entries
//   after it in its bucket. Adding a 800-point node to a 800k-point ring is ~800 short shifts, never
//   a copy of the ring.
//
// An entry is one 32-bit word: the point's low (32 - bits) bits, which are all that is left once the
// bucket gives the top ones, above the member's slot in `slotBits` bits. Comparing words compares
// points (the slot bits only break no tie: lookups search for `low << slotBits`, inserts go after
// `low << slotBits | slotMask`), so one word per entry does the work of a (point, slot) pair at half
// the memory and half the cache lines. That needs slotBits <= bits: a ring whose slots need more
// bits than its size asks for gets more buckets.
//
// A bucket's stretch starts with one header word, its room (how many entries fit), just before its
// first entry: an insert that reads the entries reads the room on the same cache line. A bucket that
// runs out of room moves to the free tail of the pool with more; when the tail is used up, the pool is
// laid out afresh (O(n), paid once per many thousand moves). `bits` follows the size, about 8 points
// per bucket (2 to 16 tolerated), so small rings do not step over empty buckets and large ones keep
// buckets short; a change of `bits` or `slotBits` also lays the pool out afresh.
//
// Ties: two members can produce the same point, and kimserver keeps the first insert
// (std::map::insert). Here every member's entries are kept, a new entry goes after the equal ones and
// lookups take the first of an equal run: the same answer, and removing the winner lets the other
// member's point serve again instead of leaving a hole (kimserver defect 4).
//
// Inserts are queued and applied at the next lookup. A queue that is a large part of the ring (a
// build, a restore, a mass rejoin) is merged by one layout: a counting scatter of every entry into
// its bucket, then a sort of each (short) bucket, instead of point by point.

const MIN_BITS = 1;
const MAX_BITS = 18;
/** A queue at least 1/QUEUE_MERGE of the ring is merged in bulk (measured: cheaper than inserts). */
const QUEUE_MERGE = 16;
/** Longer buckets (only clustered points, never MD5's) are sorted by merge sort when laid out. */
const INSERTION_SORT_MAX = 48;
const NO_QUEUE: ReadonlyMap<number, Uint32Array> = new Map();

/** Bucket bits for n points: about 8 per bucket. */
function bitsFor(n: number): number {
  const b = 31 - Math.clz32(Math.max(1, n >>> 3));
  return Math.min(Math.max(b, MIN_BITS), MAX_BITS);
}

/** Bits that hold every slot below `slots`. */
const bitsForSlots = (slots: number): number => (slots <= 1 ? 0 : 32 - Math.clz32(slots - 1));

/** Room for a bucket of len entries when the pool is laid out. */
const roomFor = (len: number): number => len + (len >>> 4) + 1;

/**
 * Sorts e[from, to) by w >>> slotBits, stably, by merge sort through `tmp` (at least to - from long);
 * for a long bucket, where insertion sort would be quadratic.
 */
function mergeSortWords(e: Uint32Array, from: number, to: number, slotBits: number, tmp: Uint32Array): void {
  const n = to - from;
  let src = e.subarray(from, to);
  let dst = tmp.subarray(0, n);
  let inTmp = false;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let w = lo;
      while (i < mid && j < hi) dst[w++] = src[j] >>> slotBits < src[i] >>> slotBits ? src[j++] : src[i++];
      while (i < mid) dst[w++] = src[i++];
      while (j < hi) dst[w++] = src[j++];
    }
    const t = src;
    src = dst;
    dst = t;
    inTmp = !inTmp;
  }
  if (inTmp) e.set(src, from);
}

export class Ring {
  /** Live points in the buckets (queued ones not included). */
  size = 0;
  #bits = MIN_BITS;
  /** 32 - bits: a point's bucket is p >>> shift, its low bits p & lowMask. */
  #shift = 32 - MIN_BITS;
  #lowMask = 0xffffffff >>> MIN_BITS;
  #slotBits = 0;
  #slotMask = 0;
  /** dir[2b]: the pool index of bucket b's first entry (its room is the word before); dir[2b + 1]: its length. */
  #dir = new Uint32Array(2 << MIN_BITS);
  /** The pool of bucket headers and entries (empty until the first layout). */
  #e = new Uint32Array(0);
  /** First word of the pool's free tail. */
  #top = 0;
  /** Members waiting to be inserted, by slot, in insertion order (a Map keeps it). */
  readonly #queue = new Map<number, Uint32Array>();
  #queued = 0;
  /** The greatest slot queued since the last flush, plus one. */
  #queuedSlots = 0;
  /** Queued inserts, or a size that asks for other bucket bits: the next lookup flushes. */
  #dirty = false;
  /** Where #touch leaves its loads' result, so that the compiler cannot drop them as dead. */
  // biome-ignore lint/correctness/noUnusedPrivateClassMembers: written so that the loads stay; never read on purpose
  #touched = 0;

  /** Live points, queued ones included. */
  get length(): number {
    return this.size + this.#queued;
  }

  /** The member slot serving hash h: the first point >= h, wrapping to the smallest; -1 when empty. */
  find(h: number): number {
    if (this.#dirty) this.flush();
    if (this.size === 0) return -1;
    const dir = this.#dir;
    const e = this.#e;
    let b = h >>> this.#shift;
    // Entries of lower points are exactly the words below this one.
    const key = ((h & this.#lowMask) << this.#slotBits) >>> 0;
    let lo = dir[2 * b];
    const end = lo + dir[2 * b + 1];
    if (end - lo > 32) {
      // Only a bucket of clustered points (not MD5's) gets this long.
      let hi = end;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e[mid] < key) lo = mid + 1;
        else hi = mid;
      }
    } else {
      // A forward scan: a bucket holds ~8 entries, on one cache line (measured faster than a binary
      // search's unpredictable branches).
      while (lo < end && e[lo] < key) lo++;
    }
    if (lo < end) return e[lo] & this.#slotMask;
    // Past the bucket's last point: the first point of the next non-empty bucket, wrapping.
    const last = (1 << this.#bits) - 1;
    do b = b === last ? 0 : b + 1;
    while (dir[2 * b + 1] === 0);
    return e[dir[2 * b]] & this.#slotMask;
  }

  /**
   * Queues a member's points (any order) as the newest insert: they rank after equal points already
   * present. A slot holds one member at a time: remove it before reusing the slot. Slots are small
   * integers (a word holds them beside the points' low bits); reuse freed ones.
   */
  insert(memberPoints: Uint32Array, slot: number): void {
    this.#queue.set(slot, memberPoints);
    this.#queued += memberPoints.length;
    if (slot >= this.#queuedSlots) this.#queuedSlots = slot + 1;
    this.#dirty = true;
  }

  /**
   * Removes exactly the entries `slot` owns for these points (the ones it was inserted with). An
   * equal point of another member stays, and serves again if this one was winning it.
   */
  remove(memberPoints: Uint32Array, slot: number): void {
    if (this.#queue.delete(slot)) {
      this.#queued -= memberPoints.length;
    } else if (slot <= this.#slotMask) {
      this.#touch(memberPoints);
      for (let k = 0; k < memberPoints.length; k++) this.#removeOne(memberPoints[k], slot);
    }
    this.#dirty = this.#queued > 0 || this.#wantBits(this.size, this.#slotBits) < this.#bits - 1;
  }

  /** Applies the queued inserts, and lays the pool out afresh when the size or the slots ask for other bits. */
  flush(): void {
    this.#dirty = false;
    const m = this.#queued;
    const n = this.size;
    const slotBits = Math.max(this.#slotBits, bitsForSlots(this.#queuedSlots));
    const bits = this.#wantBits(n + m, slotBits);
    if (m * QUEUE_MERGE >= n || bits > this.#bits || bits < this.#bits - 1 || slotBits > this.#slotBits) {
      this.#layout(bits, slotBits, this.#queue);
      this.#clearQueue();
      return;
    }
    for (const points of this.#queue.values()) this.#touch(points);
    for (const [slot, points] of this.#queue) {
      for (let k = 0; k < points.length; k++) this.#insertOne(points[k], slot);
    }
    this.#clearQueue();
  }

  /** Replaces the content; members are given in insertion order. */
  load(members: ReadonlyArray<{ points: Uint32Array; slot: number }>): void {
    this.size = 0;
    this.#dir.fill(0);
    this.#clearQueue();
    for (const m of members) this.insert(m.points, m.slot);
    this.flush();
  }

  /** Every (point, slot) pair, sorted by point then insertion order (for tests and tools). */
  entries(): Uint32Array {
    if (this.#dirty) this.flush();
    const out = new Uint32Array(2 * this.size);
    const dir = this.#dir;
    const e = this.#e;
    const shift = this.#shift;
    const slotBits = this.#slotBits;
    let w = 0;
    for (let b = 0, nb = 1 << this.#bits; b < nb; b++) {
      for (let i = dir[2 * b], end = i + dir[2 * b + 1]; i < end; i++) {
        out[w++] = (b << shift) | (e[i] >>> slotBits);
        out[w++] = e[i] & this.#slotMask;
      }
    }
    return out;
  }

  /** Bucket bits for n points with slots of slotBits bits (a word must hold both). */
  #wantBits(n: number, slotBits: number): number {
    return Math.max(bitsFor(n), slotBits, MIN_BITS);
  }

  #clearQueue(): void {
    this.#queue.clear();
    this.#queued = 0;
    this.#queuedSlots = 0;
  }

  /**
   * Lays the pool out afresh with 2^bits buckets and slots of slotBits bits, merging in `queue`: a
   * counting scatter of the present entries (in order), then of the queued ones (in insertion order),
   * into their new buckets, and a stable sort of each bucket, so equal points keep insertion order.
   */
  #layout(bits: number, slotBits: number, queue: ReadonlyMap<number, Uint32Array>): void {
    const oldDir = this.#dir;
    const old = this.#e;
    const oldShift = this.#shift;
    const oldSlotBits = this.#slotBits;
    const oldSlotMask = this.#slotMask;
    const oldBuckets = 1 << this.#bits;
    const buckets = 1 << bits;
    const shift = 32 - bits;
    const lowMask = 0xffffffff >>> bits;
    const slotMask = slotBits === 0 ? 0 : 0xffffffff >>> (32 - slotBits);
    // The point of old entry word x in old bucket b.
    const pointOf = (b: number, x: number): number => ((b << oldShift) | (x >>> oldSlotBits)) >>> 0;

    // Count per new bucket, kept in dir[2b + 1] for now.
    const dir = new Uint32Array(2 * buckets);
    for (let b = 0; b < oldBuckets; b++) {
      for (let i = oldDir[2 * b], end = i + oldDir[2 * b + 1]; i < end; i++)
        dir[2 * (pointOf(b, old[i]) >>> shift) + 1]++;
    }
    for (const points of queue.values()) {
      for (let k = 0; k < points.length; k++) dir[2 * (points[k] >>> shift) + 1]++;
    }
    // Starts, after one header word each; the counts become write cursors.
    let at = 0;
    for (let b = 0; b < buckets; b++) {
      at += 1;
      dir[2 * b] = at;
      at += roomFor(dir[2 * b + 1]);
    }
    // A free tail for buckets that outgrow their room: a sixteenth more.
    const e = new Uint32Array(at + (at >>> 4) + 16);
    for (let b = 0; b < buckets; b++) {
      e[dir[2 * b] - 1] = roomFor(dir[2 * b + 1]);
      dir[2 * b + 1] = 0;
    }
    let total = 0;
    for (let b = 0; b < oldBuckets; b++) {
      for (let i = oldDir[2 * b], end = i + oldDir[2 * b + 1]; i < end; i++) {
        const p = pointOf(b, old[i]);
        const nb = 2 * (p >>> shift);
        e[dir[nb] + dir[nb + 1]++] = (((p & lowMask) << slotBits) | (old[i] & oldSlotMask)) >>> 0;
        total++;
      }
    }
    for (const [slot, points] of queue) {
      for (let k = 0; k < points.length; k++) {
        const p = points[k];
        const nb = 2 * (p >>> shift);
        e[dir[nb] + dir[nb + 1]++] = (((p & lowMask) << slotBits) | slot) >>> 0;
      }
      total += points.length;
    }
    // Each bucket is short: insertion sort, from the second entry, after every entry <= it.
    let tmp: Uint32Array | undefined;
    for (let b = 0; b < buckets; b++) {
      const start = dir[2 * b];
      const end = start + dir[2 * b + 1];
      if (end - start > INSERTION_SORT_MAX) {
        if (tmp === undefined || tmp.length < end - start) tmp = new Uint32Array(end - start);
        mergeSortWords(e, start, end, slotBits, tmp);
        continue;
      }
      for (let i = start + 1; i < end; i++) {
        const x = e[i];
        // Words above this bound hold greater points.
        const bound = (x | slotMask) >>> 0;
        let j = i;
        while (j > start && e[j - 1] > bound) {
          e[j] = e[j - 1];
          j--;
        }
        e[j] = x;
      }
    }
    this.#bits = bits;
    this.#shift = shift;
    this.#lowMask = lowMask;
    this.#slotBits = slotBits;
    this.#slotMask = slotMask;
    this.#dir = dir;
    this.#e = e;
    this.#top = at;
    this.size = total;
  }

  /**
   * Reads, for each point, its bucket's directory pair, then the bucket's first and last pool words,
   * in passes of loads that do not wait on one another, so the CPU overlaps their cache and TLB
   * misses. The inserts and removals that follow would meet them one at a time (each one's loads wait
   * on the last one's shifts): a fresh 800-point insert into an 800k-point ring took ~3× as long.
   */
  #touch(points: Uint32Array): void {
    const dir = this.#dir;
    const e = this.#e;
    const shift = this.#shift;
    let sink = 0;
    for (let k = 0; k < points.length; k++) sink |= dir[2 * (points[k] >>> shift)];
    for (let k = 0; k < points.length; k++) {
      const b = 2 * (points[k] >>> shift);
      sink |= e[dir[b] - 1] | e[dir[b] + dir[b + 1]];
    }
    this.#touched = sink;
  }

  #insertOne(p: number, slot: number): void {
    const b = p >>> this.#shift;
    if (this.#dir[2 * b + 1] === this.#e[this.#dir[2 * b] - 1]) this.#outgrow(b);
    // Read after #outgrow: a fresh layout replaces the directory and the pool.
    const dir = this.#dir;
    const e = this.#e;
    const len = dir[2 * b + 1];
    const start = dir[2 * b];
    const low = p & this.#lowMask;
    const slotBits = this.#slotBits;
    // Insertion from the end: after every entry <= p, so an equal point ranks after the older ones.
    const last = ((low << slotBits) | this.#slotMask) >>> 0;
    let j = start + len;
    while (j > start && e[j - 1] > last) {
      e[j] = e[j - 1];
      j--;
    }
    e[j] = ((low << slotBits) | slot) >>> 0;
    dir[2 * b + 1] = len + 1;
    this.size++;
  }

  #removeOne(p: number, slot: number): void {
    const b = p >>> this.#shift;
    const dir = this.#dir;
    const e = this.#e;
    const slotBits = this.#slotBits;
    const key = ((p & this.#lowMask) << slotBits) >>> 0;
    const word = (key | slot) >>> 0;
    const start = dir[2 * b];
    const end = start + dir[2 * b + 1];
    let lo = start;
    if (end - start > 32) {
      let hi = end;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e[mid] < key) lo = mid + 1;
        else hi = mid;
      }
    } else while (lo < end && e[lo] < key) lo++;
    // Equal points of other members may come first: find this slot's own entry.
    const last = (key | this.#slotMask) >>> 0;
    while (lo < end && e[lo] !== word && e[lo] <= last) lo++;
    if (lo === end || e[lo] !== word) return;
    // A plain loop: a bucket is short, and a copyWithin call costs more than its few moves.
    for (let i = lo + 1; i < end; i++) e[i - 1] = e[i];
    dir[2 * b + 1]--;
    this.size--;
  }

  /** Bucket b is full: move it to the free tail with half as much room again, or lay the pool out. */
  #outgrow(b: number): void {
    const dir = this.#dir;
    const len = dir[2 * b + 1];
    const room = len + (len >>> 1) + 2;
    const e = this.#e;
    if (this.#top + 1 + room > e.length) {
      // The present entries only: the flush that called is inserting the queue's point by point.
      this.#layout(this.#bits, this.#slotBits, NO_QUEUE);
      // Every bucket has room again, b included.
      return;
    }
    e[this.#top] = room;
    e.copyWithin(this.#top + 1, dir[2 * b], dir[2 * b] + len);
    dir[2 * b] = this.#top + 1;
    this.#top += 1 + room;
  }
}
