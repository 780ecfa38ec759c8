// One ketama ring: the points of every member of one node type, sorted, in a typed array.
//
// Entries are ordered by (point, insertion order). Two members can produce the same point; kimserver
// keeps the first insert (std::map::insert) and drops the second. Here both are kept and lookups take
// the first of an equal run, which is the same answer, and removing the winner lets the other
// member's point serve again instead of leaving a hole (kimserver defect 4).
//
// Changes are deferred so that a burst of them (a drain slice applies up to 100) costs one pass over
// the ring, not one per change:
// - Inserts are queued per member and merged on the next lookup: one radix sort of the queued points
//   and one linear merge, O(n + k) for k queued points into n, whatever the number of members.
// - Removals do not move anything: the member's entries get the DEAD slot (a binary search each) and
//   lookups step over them. Indices stay valid, so the bucket index needs no update either. The
//   next merge drops them (by block moves when they are few, else in the merge's own pass); with no
//   insert coming, a lookup compacts once they pass a quarter of the entries, which keeps the skip
//   short (random points: ~1/3 of an entry on average).
// - Removing a member that is still queued just drops it from the queue.
// Ties keep insertion order throughout: merged entries are older than queued ones, and the queue
// keeps its members in insertion order.
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

/** The slot of a removed entry. Slots are array indices, so no member has it. */
const DEAD = 0xffffffff;

export class Ring {
  /** (point, slot) pairs, sorted by point then insertion order; slot is the table's member slot. */
  #e: Uint32Array;
  /** Merged entries, removed (DEAD) ones included until the next merge. */
  size = 0;
  /** DEAD entries among the merged ones. */
  #dead = 0;
  /** Their indices, so that a few can be dropped by moving the blocks between them. */
  readonly #deadAt: number[] = [];
  /** bucket[b]: index of the first merged point whose top 16 bits are >= b; bucket[BUCKETS] = size. */
  readonly #bucket = new Uint32Array(BUCKETS + 1);
  /** Members waiting to be merged, by slot, in insertion order (a Map keeps it). */
  readonly #queue = new Map<number, Uint32Array>();
  #queued = 0;

  constructor(capacity = 1024) {
    this.#e = new Uint32Array(2 * capacity);
  }

  /** Live points, queued ones included. */
  get length(): number {
    return this.size - this.#dead + this.#queued;
  }

  pointAt(i: number): number {
    return this.#e[2 * i];
  }

  slotAt(i: number): number {
    return this.#e[2 * i + 1];
  }

  /** The member slot serving hash h: the first live point >= h, wrapping to the smallest; -1 when empty. */
  find(h: number): number {
    if (this.#queued > 0 || 4 * this.#dead > this.size) this.flush();
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
    const slot = e[lo === size ? 1 : 2 * lo + 1];
    return slot === DEAD ? this.#liveFrom(lo) : slot;
  }

  /** The first live slot at or after index i, wrapping. At most a quarter of the entries are dead. */
  #liveFrom(i: number): number {
    const e = this.#e;
    for (; ; i++) {
      if (i === this.size) i = 0;
      if (e[2 * i + 1] !== DEAD) return e[2 * i + 1];
    }
  }

  /**
   * Queues a member's points (sorted ascending) as the newest insert: they rank after equal points
   * already present. A slot holds one member at a time: remove it before reusing the slot.
   */
  insert(memberPoints: Uint32Array, slot: number): void {
    this.#queue.set(slot, memberPoints);
    this.#queued += memberPoints.length;
  }

  /**
   * Removes exactly the entries `slot` owns for these points (the ones it was inserted with). An
   * equal point of another member stays, and serves again if this one was winning it.
   */
  remove(memberPoints: Uint32Array, slot: number): void {
    if (this.#queue.delete(slot)) {
      this.#queued -= memberPoints.length;
      return;
    }
    const e = this.#e;
    const bucket = this.#bucket;
    for (let k = 0; k < memberPoints.length; k++) {
      const p = memberPoints[k];
      const b = p >>> BUCKET_SHIFT;
      const end = bucket[b + 1];
      let lo = bucket[b];
      let hi = end;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e[2 * mid] < p) lo = mid + 1;
        else hi = mid;
      }
      // Equal points of other members (live or dead) may come first: find this slot's own entry.
      while (lo < end && e[2 * lo] === p && e[2 * lo + 1] !== slot) lo++;
      if (lo < end && e[2 * lo] === p) {
        e[2 * lo + 1] = DEAD;
        this.#dead++;
        this.#deadAt.push(lo);
      }
    }
  }

  /** Merges the queued inserts into the sorted entries and drops the removed ones. */
  flush(): void {
    const m = this.#queued;
    const dead = this.#dead;
    if (m === 0 && dead === 0) return;
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
    // Few dead entries: two passes of block moves (memmove) beat one element-by-element pass.
    if (dead > 0 && dead * 64 < this.size) this.#dropSparse();
    if (this.#dead === 0) {
      if (m > 0) this.#mergeInto(q, m);
    } else this.#mergeDropping(q, m, dead);
  }

  /** Replaces the content; members are given in insertion order, each with sorted points. */
  load(members: ReadonlyArray<{ points: Uint32Array; slot: number }>): void {
    this.size = 0;
    this.#dead = 0;
    this.#deadAt.length = 0;
    this.#queue.clear();
    this.#queued = 0;
    this.#bucket.fill(0);
    for (const m of members) this.insert(m.points, m.slot);
    this.flush();
  }

  /** Merges m sorted pairs into entries that hold no dead ones, in place, from the back. */
  #mergeInto(q: Uint32Array, m: number): void {
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
    this.#shiftBuckets(q, 2, m, 1);
  }

  /**
   * Merges m sorted pairs and drops the dead entries in one pass. Merging from the back, the write
   * position never falls below the read position, so it works in place; the result ends up at the
   * top of [0, n + m) and is moved down in one copy.
   */
  #mergeDropping(q: Uint32Array, m: number, dead: number): void {
    const n = this.size;
    this.#reserve(n + m);
    const e = this.#e;
    // Points of the dropped entries, ascending, to take them out of the bucket index.
    const gone = new Uint32Array(dead);
    let g = dead;
    let i = n - 1;
    let k = m - 1;
    let w = n + m - 1;
    while (i >= 0) {
      const p = e[2 * i];
      if (k >= 0 && q[2 * k] >= p) {
        e[2 * w] = q[2 * k];
        e[2 * w + 1] = q[2 * k + 1];
        k--;
        w--;
        continue;
      }
      const slot = e[2 * i + 1];
      if (slot === DEAD) gone[--g] = p;
      else {
        e[2 * w] = p;
        e[2 * w + 1] = slot;
        w--;
      }
      i--;
    }
    for (; k >= 0; k--, w--) {
      e[2 * w] = q[2 * k];
      e[2 * w + 1] = q[2 * k + 1];
    }
    const size = n + m - dead;
    e.copyWithin(0, 2 * (w + 1), 2 * (n + m));
    this.size = size;
    this.#dead = 0;
    this.#deadAt.length = 0;
    this.#shiftBuckets(q, 2, m, 1);
    this.#shiftBuckets(gone, 1, dead, -1);
  }

  /** Drops the dead entries by closing the gaps between them, left to right. */
  #dropSparse(): void {
    const e = this.#e;
    const size = this.size;
    const at = Uint32Array.from(this.#deadAt).sort();
    const dead = at.length;
    const gone = new Uint32Array(dead);
    let w = at[0];
    for (let d = 0; d < dead; d++) {
      gone[d] = e[2 * at[d]];
      const start = at[d] + 1;
      const stop = d + 1 < dead ? at[d + 1] : size;
      if (stop > start) {
        e.copyWithin(2 * w, 2 * start, 2 * stop);
        w += stop - start;
      }
    }
    this.size = size - dead;
    this.#dead = 0;
    this.#deadAt.length = 0;
    this.#shiftBuckets(gone, 1, dead, -1);
  }

  /** bucket[b] += sign × (how many of the m sorted points v[0], v[stride], … have top bits < b). */
  #shiftBuckets(v: Uint32Array, stride: number, m: number, sign: number): void {
    if (m === 0) return;
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
