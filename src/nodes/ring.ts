// One ketama ring: the points of every member of one node type, sorted, in a typed array.
//
// Entries are ordered by (point, insertion order). Two members can produce the same point; kimserver
// keeps the first insert (std::map::insert) and drops the second. Here both are kept and lookups take
// the first of an equal run, which is the same answer, and removing the winner lets the other
// member's point serve again instead of leaving a hole (kimserver defect 4).
//
// Inserts are queued and merged on the next lookup or removal: one node's 800 points merge into the
// sorted arrays in place, block by block, and a burst of inserts (a full build) costs one radix sort
// and one linear merge instead of a merge per node.
//
// Each entry is a (point, slot) pair stored side by side in one Uint32Array, so the slot a lookup
// returns sits on the cache line its binary search just read.
//
// Lookups start from a 65,536-entry index of the points' top 16 bits, so the binary search covers a
// handful of entries instead of touching ~20 cache lines of an 800k-point array.

// 16 bits: a 256 KiB index that stays in L2 and leaves ~12 entries per bucket at 800k points
// (measured: 18 bits was no faster, 20 bits slower).
const BUCKET_BITS = 16;
const BUCKET_SHIFT = 32 - BUCKET_BITS;
const BUCKETS = 1 << BUCKET_BITS;
const DIGITS = 1 << 16;

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
  /** (point, slot) pairs, sorted by point then insertion order; slot is the table's member slot. */
  #e: Uint32Array;
  /** Merged entries; `length` also counts queued ones. */
  size = 0;
  /** bucket[b]: index of the first merged point whose top 16 bits are >= b; bucket[BUCKETS] = size. */
  readonly #bucket = new Uint32Array(BUCKETS + 1);
  #queue = new Uint32Array(0);
  #queued = 0;

  constructor(capacity = 1024) {
    this.#e = new Uint32Array(2 * capacity);
  }

  get length(): number {
    return this.size + this.#queued;
  }

  pointAt(i: number): number {
    return this.#e[2 * i];
  }

  slotAt(i: number): number {
    return this.#e[2 * i + 1];
  }

  /** The member slot serving hash h: the first point >= h, wrapping to the smallest; -1 when empty. */
  find(h: number): number {
    if (this.#queued > 0) this.flush();
    const size = this.size;
    if (size === 0) return -1;
    const e = this.#e;
    const b = h >>> BUCKET_SHIFT;
    let lo = this.#bucket[b];
    let hi = this.#bucket[b + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (e[2 * mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return e[lo === size ? 1 : 2 * lo + 1];
  }

  /** Queues a member's points as the newest insert: they rank after equal points already present. */
  insert(memberPoints: Uint32Array, slot: number): void {
    const m = memberPoints.length;
    const need = this.#queued + m;
    if (2 * need > this.#queue.length) {
      const q = new Uint32Array(2 * Math.max(need, this.#queue.length, 1024));
      q.set(this.#queue.subarray(0, 2 * this.#queued));
      this.#queue = q;
    }
    const q = this.#queue;
    for (let k = 0, at = 2 * this.#queued; k < m; k++, at += 2) {
      q[at] = memberPoints[k];
      q[at + 1] = slot;
    }
    this.#queued = need;
  }

  /** Merges the queued inserts into the sorted entries. */
  flush(): void {
    const m = this.#queued;
    if (m === 0) return;
    const q = this.#queue;
    sortPairs(q, m);
    const n = this.size;
    this.#reserve(n + m);
    const e = this.#e;
    if (m * 64 < n) {
      // Few points into many: move whole blocks, found by binary search in the untouched [0, end).
      let end = n;
      for (let k = m - 1; k >= 0; k--) {
        const p = q[2 * k];
        let lo = 0;
        let hi = end;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (e[2 * mid] <= p) lo = mid + 1;
          else hi = mid;
        }
        if (lo < end) e.copyWithin(2 * (lo + k + 1), 2 * lo, 2 * end);
        e[2 * (lo + k)] = p;
        e[2 * (lo + k) + 1] = q[2 * k + 1];
        end = lo;
      }
    } else {
      // Linear merge from the back; on a tie the queued point goes after the present one.
      let i = n - 1;
      let w = n + m - 1;
      for (let k = m - 1; k >= 0; w--) {
        if (i >= 0 && e[2 * i] > q[2 * k]) {
          e[2 * w] = e[2 * i];
          e[2 * w + 1] = e[2 * i + 1];
          i--;
        } else {
          e[2 * w] = q[2 * k];
          e[2 * w + 1] = q[2 * k + 1];
          k--;
        }
      }
    }
    this.size = n + m;
    this.#queued = 0;
    this.#shiftBuckets(q, 2, m, 1);
    // A full build queues the whole ring; do not keep that much spare memory afterwards.
    if (q.length > 1 << 17) this.#queue = new Uint32Array(0);
  }

  /** Removes exactly the entries `slot` owns for these points (sorted ascending). */
  remove(memberPoints: Uint32Array, slot: number): void {
    this.flush();
    const e = this.#e;
    const size = this.size;
    // Find the doomed indices, ascending. Equal runs are scanned for this slot's own entry, so a
    // colliding point of another member stays.
    const doomed: number[] = [];
    let from = 0;
    for (let k = 0; k < memberPoints.length; k++) {
      const p = memberPoints[k];
      let lo = from;
      let hi = size;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e[2 * mid] < p) lo = mid + 1;
        else hi = mid;
      }
      while (lo < size && e[2 * lo] === p && e[2 * lo + 1] !== slot) lo++;
      if (lo < size && e[2 * lo] === p) {
        doomed.push(lo);
        from = lo + 1;
      }
    }
    const gone = new Uint32Array(doomed.length);
    for (let d = 0; d < doomed.length; d++) gone[d] = e[2 * doomed[d]];
    // Close the gaps left to right.
    let write = doomed.length > 0 ? doomed[0] : size;
    for (let d = 0; d < doomed.length; d++) {
      const start = doomed[d] + 1;
      const stop = d + 1 < doomed.length ? doomed[d + 1] : size;
      if (stop > start) {
        e.copyWithin(2 * write, 2 * start, 2 * stop);
        write += stop - start;
      }
    }
    this.size = size - doomed.length;
    this.#shiftBuckets(gone, 1, gone.length, -1);
  }

  /** Replaces the content; members are given in insertion order, each with sorted points. */
  load(members: ReadonlyArray<{ points: Uint32Array; slot: number }>): void {
    this.size = 0;
    this.#queued = 0;
    this.#bucket.fill(0);
    for (const m of members) this.insert(m.points, m.slot);
    this.flush();
  }

  /** bucket[b] += sign × (how many of the m sorted points v[0], v[stride], … have top bits < b). */
  #shiftBuckets(v: Uint32Array, stride: number, m: number, sign: number): void {
    const bucket = this.#bucket;
    let j = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      while (j < m && v[stride * j] >>> BUCKET_SHIFT < b) j++;
      if (j === 0) continue;
      bucket[b] += sign * j;
    }
  }

  #reserve(n: number): void {
    if (2 * n <= this.#e.length) return;
    let cap = this.#e.length || 2048;
    while (cap < 2 * n) cap *= 2;
    const e = new Uint32Array(cap);
    e.set(this.#e.subarray(0, 2 * this.size));
    this.#e = e;
  }
}
