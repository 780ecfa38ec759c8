// One ketama ring: the points of every member of one node type, in sorted buckets.
//
// The 32-bit hash space is cut into 2^bits buckets by the points' top bits. Each bucket keeps its
// (point, slot) pairs sorted by point, then insertion order, in its own stretch of one pool
// Uint32Array, with room to spare. So:
// - a lookup reads the bucket's (start, length) word pair, which sits on one cache line, and scans
//   a handful of entries instead of binary-searching ~20 cache lines of one big array;
// - a change costs in proportion to the change: inserting or removing a point shifts the few entries
//   after it in its bucket. Adding a 800-point node to a 800k-point ring is ~800 short shifts, never
//   a copy of the ring.
// A bucket that runs out of room moves to the free tail of the pool with more; when the tail is used
// up, the pool is laid out afresh (O(n), paid once per many thousand moves). `bits` follows the size,
// about 8 points per bucket (2 to 16 tolerated), so small rings do not step over empty buckets and
// large ones keep buckets short; a change of `bits` also lays the pool out afresh.
//
// Ties: two members can produce the same point, and kimserver keeps the first insert
// (std::map::insert). Here every member's entries are kept, a new entry goes after the equal ones and
// lookups take the first of an equal run: the same answer, and removing the winner lets the other
// member's point serve again instead of leaving a hole (kimserver defect 4).
//
// Inserts are queued and applied at the next lookup. A queue that is a large part of the ring (a
// build, a restore, a mass rejoin) is merged by one stable radix sort and one layout, instead of
// point by point.

const DIGITS = 1 << 16;
const MIN_BITS = 1;
const MAX_BITS = 18;
/** A queue at least 1/QUEUE_MERGE of the ring is merged in bulk (measured: cheaper than inserts). */
const QUEUE_MERGE = 16;

/** Bucket bits for n points: about 8 per bucket. */
function bitsFor(n: number): number {
  const b = 31 - Math.clz32(Math.max(1, n >>> 3));
  return Math.min(Math.max(b, MIN_BITS), MAX_BITS);
}

/** Room for a bucket of len entries when the pool is laid out. */
const roomFor = (len: number): number => len + (len >>> 4) + 1;

/**
 * Stable sort of n (point, slot) pairs by point, so ties keep insertion order. LSD radix on two
 * 16-bit digits; insertion sort when there are only a few.
 */
function sortPairs(e: Uint32Array, n: number): void {
  if (n <= 64) {
    for (let i = 1; i < n; i++) {
      const p = e[2 * i];
      const s = e[2 * i + 1];
      let j = i - 1;
      while (j >= 0 && e[2 * j] > p) {
        e[2 * j + 2] = e[2 * j];
        e[2 * j + 3] = e[2 * j + 1];
        j--;
      }
      e[2 * j + 2] = p;
      e[2 * j + 3] = s;
    }
    return;
  }
  const tmp = new Uint32Array(2 * n);
  const count = new Uint32Array(DIGITS);
  radixPass(e, tmp, n, 0, count);
  count.fill(0);
  radixPass(tmp, e, n, 16, count);
}

function radixPass(from: Uint32Array, to: Uint32Array, n: number, shift: number, count: Uint32Array): void {
  for (let i = 0; i < n; i++) count[(from[2 * i] >>> shift) & 0xffff]++;
  let sum = 0;
  for (let d = 0; d < DIGITS; d++) {
    const c = count[d];
    count[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const at = 2 * count[(from[2 * i] >>> shift) & 0xffff]++;
    to[at] = from[2 * i];
    to[at + 1] = from[2 * i + 1];
  }
}

export class Ring {
  /** Live points in the buckets (queued ones not included). */
  size = 0;
  #bits = MIN_BITS;
  #shift = 32 - MIN_BITS;
  /** dir[2b]: first pair of bucket b in the pool; dir[2b + 1]: its length. */
  #dir = new Uint32Array(2 << MIN_BITS);
  /** Pairs bucket b has room for at its place in the pool. */
  #room = new Uint32Array(1 << MIN_BITS);
  /** The pool of (point, slot) pairs. */
  #e = new Uint32Array(0);
  /** First pair of the pool's free tail. */
  #top = 0;
  /** Members waiting to be inserted, by slot, in insertion order (a Map keeps it). */
  readonly #queue = new Map<number, Uint32Array>();
  #queued = 0;
  /** Queued inserts, or a size that asks for other bucket bits: the next lookup flushes. */
  #dirty = false;

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
    let lo = dir[2 * b];
    const end = lo + dir[2 * b + 1];
    if (end - lo > 32) {
      // Only a bucket of clustered points (not MD5's) gets this long.
      let hi = end;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e[2 * mid] < h) lo = mid + 1;
        else hi = mid;
      }
    } else {
      // A forward scan: a bucket holds ~8 entries, on one or two cache lines (measured faster than
      // a binary search's unpredictable branches).
      while (lo < end && e[2 * lo] < h) lo++;
    }
    if (lo < end) return e[2 * lo + 1];
    // Past the bucket's last point: the first point of the next non-empty bucket, wrapping.
    const last = (1 << this.#bits) - 1;
    do b = b === last ? 0 : b + 1;
    while (dir[2 * b + 1] === 0);
    return e[2 * dir[2 * b] + 1];
  }

  /**
   * Queues a member's points (any order) as the newest insert: they rank after equal points already
   * present. A slot holds one member at a time: remove it before reusing the slot.
   */
  insert(memberPoints: Uint32Array, slot: number): void {
    this.#queue.set(slot, memberPoints);
    this.#queued += memberPoints.length;
    this.#dirty = true;
  }

  /**
   * Removes exactly the entries `slot` owns for these points (the ones it was inserted with). An
   * equal point of another member stays, and serves again if this one was winning it.
   */
  remove(memberPoints: Uint32Array, slot: number): void {
    if (this.#queue.delete(slot)) {
      this.#queued -= memberPoints.length;
    } else {
      for (let k = 0; k < memberPoints.length; k++) this.#removeOne(memberPoints[k], slot);
    }
    this.#dirty = this.#queued > 0 || bitsFor(this.size) < this.#bits - 1;
  }

  /** Applies the queued inserts, and lays the pool out afresh when the size asks for other bits. */
  flush(): void {
    this.#dirty = false;
    const m = this.#queued;
    const n = this.size;
    const bits = bitsFor(n + m);
    if (m * QUEUE_MERGE >= n || bits > this.#bits || bits < this.#bits - 1) {
      this.#layout(bits, this.#takeQueue(m));
      return;
    }
    for (const [slot, points] of this.#queue) {
      for (let k = 0; k < points.length; k++) this.#insertOne(points[k], slot);
    }
    this.#queue.clear();
    this.#queued = 0;
  }

  /** Replaces the content; members are given in insertion order. */
  load(members: ReadonlyArray<{ points: Uint32Array; slot: number }>): void {
    this.size = 0;
    this.#dir.fill(0);
    this.#queue.clear();
    this.#queued = 0;
    for (const m of members) this.insert(m.points, m.slot);
    this.flush();
  }

  /** Every (point, slot) pair, sorted by point then insertion order (for tests and tools). */
  entries(): Uint32Array {
    if (this.#dirty) this.flush();
    return this.#sorted(0);
  }

  /** The queued members' pairs, stably sorted by point; empties the queue. */
  #takeQueue(m: number): Uint32Array {
    const q = new Uint32Array(2 * m);
    let at = 0;
    for (const [slot, points] of this.#queue) {
      for (let k = 0; k < points.length; k++, at += 2) {
        q[at] = points[k];
        q[at + 1] = slot;
      }
    }
    this.#queue.clear();
    this.#queued = 0;
    sortPairs(q, m);
    return q;
  }

  /** The buckets' pairs in order (sorted), with `extra` free pairs after them. */
  #sorted(extra: number): Uint32Array {
    const out = new Uint32Array(2 * (this.size + extra));
    const dir = this.#dir;
    const e = this.#e;
    let w = 0;
    for (let b = 0, nb = 1 << this.#bits; b < nb; b++) {
      const start = 2 * dir[2 * b];
      const end = start + 2 * dir[2 * b + 1];
      for (let i = start; i < end; i++) out[w++] = e[i];
    }
    return out;
  }

  /** Lays the pool out afresh with 2^bits buckets, merging in q (sorted pairs, newer than the rest). */
  #layout(bits: number, q: Uint32Array): void {
    const n = this.size;
    const m = q.length >>> 1;
    const all = this.#sorted(m);
    // Merge from the back; on a tie the queued pair goes after the present one.
    for (let i = n - 1, k = m - 1, w = n + m - 1; k >= 0; w--) {
      if (i >= 0 && all[2 * i] > q[2 * k]) {
        all[2 * w] = all[2 * i];
        all[2 * w + 1] = all[2 * i + 1];
        i--;
      } else {
        all[2 * w] = q[2 * k];
        all[2 * w + 1] = q[2 * k + 1];
        k--;
      }
    }
    const total = n + m;
    const buckets = 1 << bits;
    const shift = 32 - bits;
    const dir = new Uint32Array(2 * buckets);
    const room = new Uint32Array(buckets);
    for (let i = 0; i < total; i++) dir[2 * (all[2 * i] >>> shift) + 1]++;
    let at = 0;
    for (let b = 0; b < buckets; b++) {
      dir[2 * b] = at;
      room[b] = roomFor(dir[2 * b + 1]);
      at += room[b];
    }
    // A free tail for buckets that outgrow their room: a sixteenth more.
    const e = new Uint32Array(2 * (at + (at >>> 4) + 16));
    for (let b = 0, i = 0; b < buckets; b++) {
      const len = dir[2 * b + 1];
      const w = 2 * dir[2 * b];
      for (let k = 0; k < 2 * len; k++) e[w + k] = all[2 * i + k];
      i += len;
    }
    this.#bits = bits;
    this.#shift = shift;
    this.#dir = dir;
    this.#room = room;
    this.#e = e;
    this.#top = at;
    this.size = total;
  }

  #insertOne(p: number, slot: number): void {
    const b = p >>> this.#shift;
    if (this.#dir[2 * b + 1] === this.#room[b]) this.#outgrow(b);
    // Read after #outgrow: a fresh layout replaces the directory and the pool.
    const dir = this.#dir;
    const len = dir[2 * b + 1];
    const e = this.#e;
    const start = dir[2 * b];
    // Insertion from the end: after every entry <= p, so an equal point ranks after the older ones.
    let j = start + len;
    while (j > start && e[2 * j - 2] > p) {
      e[2 * j] = e[2 * j - 2];
      e[2 * j + 1] = e[2 * j - 1];
      j--;
    }
    e[2 * j] = p;
    e[2 * j + 1] = slot;
    dir[2 * b + 1] = len + 1;
    this.size++;
  }

  #removeOne(p: number, slot: number): void {
    const b = p >>> this.#shift;
    const dir = this.#dir;
    const e = this.#e;
    const start = dir[2 * b];
    const end = start + dir[2 * b + 1];
    let lo = start;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[2 * mid] < p) lo = mid + 1;
      else hi = mid;
    }
    // Equal points of other members may come first: find this slot's own entry.
    while (lo < end && e[2 * lo] === p && e[2 * lo + 1] !== slot) lo++;
    if (lo === end || e[2 * lo] !== p) return;
    for (let i = lo + 1; i < end; i++) {
      e[2 * i - 2] = e[2 * i];
      e[2 * i - 1] = e[2 * i + 1];
    }
    dir[2 * b + 1]--;
    this.size--;
  }

  /** Bucket b is full: move it to the free tail with half as much room again, or lay the pool out. */
  #outgrow(b: number): void {
    const dir = this.#dir;
    const len = dir[2 * b + 1];
    const room = len + (len >>> 1) + 2;
    if (2 * (this.#top + room) > this.#e.length) {
      this.#layout(this.#bits, new Uint32Array(0));
      // Every bucket has room again, b included.
      return;
    }
    const e = this.#e;
    e.copyWithin(2 * this.#top, 2 * dir[2 * b], 2 * (dir[2 * b] + len));
    dir[2 * b] = this.#top;
    this.#room[b] = room;
    this.#top += room;
  }
}
