// `npm run bench -- nodes`: the node table at kimserver scale, 1,000 nodes × 4 workers × 200 points.
// Every figure is the median of several repetitions. In the same run, on the same keys:
// - binary_search: a plain binary search over one sorted Uint32Array of the same 800k points (and a
//   parallel array of their members), after the same key hash;
// - hashring: the `hashring` package (the ketama ring most Node users pick) with as many points
//   (4,000 members × 50 vnodes × 4 replicas), its LRU cache replaced by a no-op so that every get()
//   searches the ring;
// - rebuild_baseline: rebuild the whole sorted ring (points of existing members cached) on every add
//   and remove, the obvious alternative to changing it in place.
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fnv1a64String } from '../src/nodes/hash.js';
import type { HashNode } from '../src/nodes/index.js';
import { Nodes } from '../src/nodes/index.js';
import { Ring } from '../src/nodes/ring.js';
import type { ZkNode } from '../src/nodes/validate.js';
import { memberId, vnodePoints } from '../src/nodes/vnodes.js';
import type { Bench } from './index.js';
import { STATUS_PATHS, timeStatusEndpoints } from './support/status-endpoints.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const NODES = 1000;
const WORKERS = 4;
const TYPE = 'logic';

function node(i: number): ZkNode {
  return {
    path: `/kimserver/nodes/${TYPE}/kimserver-${TYPE}${String(i).padStart(10, '0')}`,
    type: TYPE,
    host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 3000 + (i % 1000),
    worker_cnt: WORKERS,
    active_time: 1_700_000_000 + i / 1000,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** What the bio thread sends with a node: its members' points, computed off the main thread. */
const pointsOf = (n: ZkNode): Uint32Array[] =>
  Array.from({ length: n.worker_cnt }, (_, w) => vnodePoints(memberId(n.host, n.port, w + 1), 200));

/**
 * A table of `count` nodes, ready to answer (the first lookup applies the queued inserts); with
 * `points`, the nodes come with their points precomputed, as finished changes from the bio thread do.
 */
function build(count = NODES, points?: Uint32Array[][]): Nodes {
  const t = new Nodes();
  for (let i = 0; i < count; i++) t.addZkNode(node(i), points?.[i]);
  t.getNodeInHash(TYPE, 'x');
  return t;
}

interface HashRingLike {
  get(key: string): string | undefined;
  cache: { get(key: string): undefined; set(key: string, value: string): void };
}
const HashRing = createRequire(import.meta.url)('hashring') as new (
  servers: string[],
  algorithm: string,
  options: Record<string, number>,
) => HashRingLike;

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];

function heapBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Heap bytes that one add and one remove allocate, kept or not: the medians of five batches of `count` adds then
 * as many removes, each batch run just after a full GC and counted only when no GC ran during it (tried again
 * otherwise); NaN when every batch met one. The table's update path runs once per ack on the main thread, and
 * what it allocates is what the scavenger later walks through. JS heap only: typed-array objects count, their
 * backing stores (ArrayBuffer memory, outside the heap) do not.
 */
async function allocatedPerChange(
  count: number,
  add: (i: number) => void,
  remove: (i: number) => void,
): Promise<{ add: number; remove: number }> {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
  const adds: number[] = [];
  const removes: number[] = [];
  try {
    for (let attempt = 0; attempt < 30 && adds.length < 5; attempt++) {
      gc();
      // GC entries reach the observer later: let the forced one's arrive before counting.
      await settle();
      const before = gcs;
      const h0 = process.memoryUsage().heapUsed;
      for (let i = 0; i < count; i++) add(i);
      const h1 = process.memoryUsage().heapUsed;
      for (let i = 0; i < count; i++) remove(i);
      const h2 = process.memoryUsage().heapUsed;
      await settle();
      if (gcs !== before) continue;
      adds.push((h1 - h0) / count);
      removes.push((h2 - h1) / count);
    }
  } finally {
    observer.disconnect();
  }
  const result = (xs: number[]) => (xs.length === 0 ? Number.NaN : Math.round(median(xs)));
  return { add: result(adds), remove: result(removes) };
}

/** The rebuild-everything alternative: member points cached, ring re-sorted on each change. */
class RebuildRing {
  members: { points: Uint32Array; slot: number }[] = [];
  ring = new Ring();
  add(n: ZkNode, rebuild = true): void {
    for (let w = 1; w <= n.worker_cnt; w++) {
      const points = vnodePoints(memberId(n.host, n.port, w), 200);
      this.members.push({ points, slot: this.members.length });
    }
    if (rebuild) this.ring.load(this.members);
  }
  remove(n: ZkNode): void {
    const ids = new Set<number>();
    for (let w = 0; w < n.worker_cnt; w++) ids.add(this.members.length - n.worker_cnt + w);
    this.members = this.members.filter((m) => !ids.has(m.slot));
    this.ring.load(this.members);
  }
}

const bench: Bench = async ({ quick }) => {
  const reps = quick ? 3 : 7;
  const changeReps = quick ? 50 : 200;

  // Full build through the public API: with points precomputed (the main thread's work once the bio
  // thread sends finished changes), computing them here (MD5 on this thread), and through restore().
  const allPoints = Array.from({ length: NODES }, (_, i) => pointsOf(node(i)));
  const buildMs: number[] = [];
  const buildMd5Ms: number[] = [];
  const restoreMs: number[] = [];
  let table = build();
  const snap = table.snapshot();
  for (let r = 0; r < reps; r++) {
    gc();
    let t0 = performance.now();
    table = build(NODES, allPoints);
    buildMs.push(performance.now() - t0);
    gc();
    t0 = performance.now();
    table = build();
    buildMd5Ms.push(performance.now() - t0);
    gc();
    t0 = performance.now();
    new Nodes().restore(snap).version;
    restoreMs.push(performance.now() - t0);
  }
  const points = table.pointCount(TYPE);

  // Heap per node with 5,000 peers: the whole table, rings and maps included.
  const HEAP_NODES = 5000;
  table = undefined as unknown as Nodes;
  const heap0 = heapBytes();
  let big: Nodes | undefined = build(HEAP_NODES);
  const heapPerNode = (heapBytes() - heap0) / HEAP_NODES;
  big = undefined;
  table = build(NODES, allPoints);

  // Add and remove of one node at 800k points, points precomputed as the pipeline delivers them.
  // Inserts are applied on the next lookup, so a lookup is part of the timed add (and of the remove).
  const extra = Array.from({ length: changeReps }, (_, r) => node(NODES + r));
  const extraPoints = extra.map(pointsOf);
  // Twenty untimed rounds first, on other nodes: the first calls run unoptimised code, which is the
  // JIT's cost once per process, not a change's.
  for (let r = 0; r < 20; r++) {
    const n = node(2 * NODES + r);
    table.addZkNode(n, pointsOf(n));
    table.getNodeInHash(TYPE, n.path);
    table.delZkNode(n.path);
    table.getNodeInHash(TYPE, n.path);
  }
  const addMs: number[] = [];
  const removeMs: number[] = [];
  for (let r = 0; r < changeReps; r++) {
    const n = extra[r];
    let t0 = performance.now();
    table.addZkNode(n, extraPoints[r]);
    table.getNodeInHash(TYPE, n.path);
    addMs.push(performance.now() - t0);
    t0 = performance.now();
    table.delZkNode(n.path);
    table.getNodeInHash(TYPE, n.path);
    removeMs.push(performance.now() - t0);
  }

  // What an add and a remove allocate (no lookup: that is the ring's flush, not the update).
  const allocated = await allocatedPerChange(
    Math.min(100, extra.length),
    (r) => table.addZkNode(extra[r], extraPoints[r]),
    (r) => table.delZkNode(extra[r].path),
  );

  // A drain slice applies up to 100 changes before anyone looks up. Each repetition removes 100 nodes
  // one by one and looks up once, then puts them back the same way (both timed separately).
  const remove100Ms: number[] = [];
  const add100Ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const batch = Array.from({ length: 100 }, (_, i) => ((r * 100 + i) * 7) % NODES);
    let t0 = performance.now();
    for (const i of batch) table.delZkNode(node(i).path);
    table.getNodeInHash(TYPE, 'x');
    remove100Ms.push(performance.now() - t0);
    t0 = performance.now();
    for (const i of batch) table.addZkNode(node(i), allPoints[i]);
    table.getNodeInHash(TYPE, 'x');
    add100Ms.push(performance.now() - t0);
  }

  // The comparisons, on the same points (binary search) or as many (hashring).
  const members: HashNode[] = [];
  const sortedPoints = new Uint32Array(points);
  const sortedMembers = new Uint32Array(points);
  {
    const pairs: [number, number][] = [];
    for (let i = 0; i < NODES; i++) {
      const n = node(i);
      for (let w = 1; w <= WORKERS; w++) {
        const m = members.length;
        members.push({
          id: memberId(n.host, n.port, w),
          type: TYPE,
          host: n.host,
          port: n.port,
          workerIndex: w,
        });
        for (const p of allPoints[i][w - 1]) pairs.push([p, m]);
      }
    }
    pairs.sort((a, b) => a[0] - b[0]);
    pairs.forEach(([p, m], i) => {
      sortedPoints[i] = p;
      sortedMembers[i] = m;
    });
  }
  const binarySearch = (key: string): HashNode => {
    const h = fnv1a64String(key);
    let lo = 0;
    let hi = sortedPoints.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sortedPoints[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return members[sortedMembers[lo === sortedPoints.length ? 0 : lo]];
  };
  const hashring = new HashRing(
    members.map((m) => m.id),
    'md5',
    { 'vnode count': 50, replicas: 4 },
  );
  hashring.cache = { get: () => undefined, set: () => {} };

  // Lookups: string keys (hashed from the string, no encoding), numbers and bytes. A server hashes
  // keys it has just parsed, so they sit in cache: the headline figure cycles a 64k-key working set
  // (random over the ring). The 1M-distinct-key figure adds a cache miss per key string.
  const keyCount = 1 << 20;
  const keys: string[] = new Array(keyCount);
  for (let i = 0; i < keyCount; i++) keys[i] = `user:${(i * 2654435761) >>> 0}`;
  const byteKeys = keys.slice(0, 1 << 16).map((k) => new TextEncoder().encode(k));
  let sink = 0;
  const rate = (fn: () => number, n: number): number => {
    const t0 = performance.now();
    sink += fn();
    return n / ((performance.now() - t0) / 1000);
  };
  const hot = 1 << 16;
  const hashringKeys = 1 << 14; // it is slow: fewer lookups for the same time
  const hotRates: number[] = [];
  const binaryRates: number[] = [];
  const hashringRates: number[] = [];
  const stringRates: number[] = [];
  const numberRates: number[] = [];
  const byteRates: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    hotRates.push(
      rate(() => {
        let s = 0;
        for (let i = 0; i < keyCount; i++) s += table.getNodeInHash(TYPE, keys[i & (hot - 1)])!.workerIndex;
        return s;
      }, keyCount),
    );
    binaryRates.push(
      rate(() => {
        let s = 0;
        for (let i = 0; i < keyCount; i++) s += binarySearch(keys[i & (hot - 1)]).workerIndex;
        return s;
      }, keyCount),
    );
    hashringRates.push(
      rate(() => {
        let s = 0;
        for (let i = 0; i < hashringKeys; i++) s += hashring.get(keys[i])!.length;
        return s;
      }, hashringKeys),
    );
    stringRates.push(
      rate(() => {
        let s = 0;
        for (let i = 0; i < keyCount; i++) s += table.getNodeInHash(TYPE, keys[i])!.workerIndex;
        return s;
      }, keyCount),
    );
    numberRates.push(
      rate(() => {
        let s = 0;
        for (let i = 0; i < keyCount; i++) s += table.getNodeInHash(TYPE, i)!.workerIndex;
        return s;
      }, keyCount),
    );
    byteRates.push(
      rate(() => {
        let s = 0;
        for (let j = 0; j < 16; j++)
          for (let i = 0; i < byteKeys.length; i++) s += table.getNodeInHash(TYPE, byteKeys[i])!.workerIndex;
        return s;
      }, 16 * byteKeys.length),
    );
  }
  for (const r of [hotRates, binaryRates, hashringRates, stringRates, numberRates, byteRates]) r.shift(); // warm-up
  // The comparison must answer like the table: a lookup that disagrees would make it a different ring.
  for (let i = 0; i < 1000; i++) {
    if (binarySearch(keys[i]).id !== table.getNodeInHash(TYPE, keys[i])!.id)
      throw new Error(`binary search and table disagree on ${keys[i]}`);
  }

  // Baseline: rebuild the sorted ring on every change.
  const baseline = new RebuildRing();
  for (let i = 0; i < NODES; i++) baseline.add(node(i), i === NODES - 1);
  const baseAdd: number[] = [];
  const baseRemove: number[] = [];
  for (let r = 0; r < Math.min(changeReps, 20); r++) {
    const n = node(NODES + r);
    let t0 = performance.now();
    baseline.add(n);
    baseAdd.push(performance.now() - t0);
    t0 = performance.now();
    baseline.remove(n);
    baseRemove.push(performance.now() - t0);
  }

  // The status page's endpoints, over HTTP, against the same 1,000-node table.
  const statusMs = await timeStatusEndpoints(table, 15);

  const lookups = median(hotRates);
  const results = {
    lookups_per_s: Math.round(lookups),
    add_ms: round(median(addMs)),
    remove_ms: round(median(removeMs)),
    add_p99_ms: round(p99(addMs)),
    remove_p99_ms: round(p99(removeMs)),
    build_ms: round(median(buildMs), 1),
    heap_bytes_per_node: Math.round(heapPerNode),
    points,
    rebuild_baseline: { add_ms: round(median(baseAdd)), remove_ms: round(median(baseRemove)) },
    binary_search_lookups_per_s: Math.round(median(binaryRates)),
    hashring_lookups_per_s: Math.round(median(hashringRates)),
    // Extras, beyond the contract.
    // Per round, then the median: the three run back to back in each round, so a busy spell on the
    // shared machine weighs on all three of one round rather than on one of them.
    ratios: {
      lookups_vs_binary_search: round(median(hotRates.map((x, i) => x / binaryRates[i])), 2),
      lookups_vs_hashring: round(median(hotRates.map((x, i) => x / hashringRates[i])), 1),
      add_vs_rebuild: round(median(baseAdd) / median(addMs), 1),
      remove_vs_rebuild: round(median(baseRemove) / median(removeMs), 1),
    },
    add_max_ms: round(Math.max(...addMs)),
    remove_max_ms: round(Math.max(...removeMs)),
    add_allocated_bytes: allocated.add,
    remove_allocated_bytes: allocated.remove,
    build_computing_points_ms: round(median(buildMd5Ms), 1),
    restore_ms: round(median(restoreMs), 1),
    lookups_per_s_1m_distinct_keys: Math.round(median(stringRates)),
    lookups_per_s_number_keys: Math.round(median(numberRates)),
    lookups_per_s_byte_keys: Math.round(median(byteRates)),
    remove_100_then_lookup_ms: round(median(remove100Ms)),
    add_100_then_lookup_ms: round(median(add100Ms)),
    status_endpoint_ms: Object.fromEntries(
      STATUS_PATHS.map((path) => [
        path,
        { p50: round(median(statusMs[path]), 2), max: round(Math.max(...statusMs[path]), 2) },
      ]),
    ),
    heap_nodes: HEAP_NODES,
    nodes: NODES,
    workers: WORKERS,
    repetitions: { build: reps, change: changeReps, lookups: reps },
    sink: sink > 0 && big === undefined,
  };
  const row = (name: string, value: string, note = '') => `${name.padEnd(40)}${value.padStart(14)}  ${note}`;
  const n = (x: number) => x.toLocaleString('en-US');
  const text = [
    `nodes: ${NODES} nodes × ${WORKERS} workers, ${points} points (medians)`,
    row('lookups/s (string keys, 64k set)', n(results.lookups_per_s)),
    row(
      '  binary search, one sorted array',
      n(results.binary_search_lookups_per_s),
      `zkbio ${results.ratios.lookups_vs_binary_search}× (target ≥ 1.5×)`,
    ),
    row(
      '  hashring (cache off)',
      n(results.hashring_lookups_per_s),
      `zkbio ${results.ratios.lookups_vs_hashring}× (target ≥ 30×)`,
    ),
    row('lookups/s (1M distinct strings)', n(results.lookups_per_s_1m_distinct_keys)),
    row('lookups/s (number keys)', n(results.lookups_per_s_number_keys)),
    row('lookups/s (Uint8Array keys)', n(results.lookups_per_s_byte_keys)),
    row(
      'add one node (ms)',
      String(results.add_ms),
      `p99 ${results.add_p99_ms}, max ${results.add_max_ms}; target p99 ≤ 0.2`,
    ),
    row(
      'remove one node (ms)',
      String(results.remove_ms),
      `p99 ${results.remove_p99_ms}, max ${results.remove_max_ms}; target p99 ≤ 0.2`,
    ),
    row('heap bytes allocated per add', n(results.add_allocated_bytes), `${WORKERS} workers, points given`),
    row('heap bytes allocated per remove', n(results.remove_allocated_bytes)),
    row(
      'rebuild baseline: add (ms)',
      String(results.rebuild_baseline.add_ms),
      `${results.ratios.add_vs_rebuild}× slower`,
    ),
    row(
      'rebuild baseline: remove (ms)',
      String(results.rebuild_baseline.remove_ms),
      `${results.ratios.remove_vs_rebuild}× slower`,
    ),
    row('remove 100 nodes, 1 lookup (ms)', String(results.remove_100_then_lookup_ms), 'total'),
    row('add 100 nodes, 1 lookup (ms)', String(results.add_100_then_lookup_ms), 'total'),
    row('build 1,000 nodes, points given (ms)', String(results.build_ms)),
    row('build 1,000 nodes, MD5 here (ms)', String(results.build_computing_points_ms)),
    row('build via restore(snapshot) (ms)', String(results.restore_ms)),
    row(`heap bytes per node (${n(HEAP_NODES)} nodes)`, n(results.heap_bytes_per_node)),
    ...STATUS_PATHS.map((path) => {
      const { p50, max } = results.status_endpoint_ms[path];
      return row(`GET ${path} (ms)`, String(p50), `max ${max}; target p50 < 50`);
    }),
  ].join('\n');
  return { results, table: text };
};

export default bench;
