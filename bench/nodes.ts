// `npm run bench -- nodes`: the node table at kimserver scale, 1,000 nodes × 4 workers × 200 points.
// Every figure is the median of several repetitions. rebuild_baseline times the obvious alternative
// to merging: rebuild the whole sorted ring (one typed-array sort, points of existing members cached)
// on every add and remove.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Nodes } from '../src/nodes/index.js';
import { Ring } from '../src/nodes/ring.js';
import type { ZkNode } from '../src/nodes/validate.js';
import { memberId, vnodePoints } from '../src/nodes/vnodes.js';
import type { Bench } from './index.js';

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

/** A table of NODES nodes, ready to answer (the first lookup merges the queued inserts). */
function build(): Nodes {
  const t = new Nodes();
  for (let i = 0; i < NODES; i++) t.addZkNode(node(i));
  t.getNodeInHash(TYPE, 'x');
  return t;
}

function heapBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** The rebuild-everything alternative: member points cached, ring re-sorted on each change. */
class RebuildRing {
  members: { points: Uint32Array; slot: number }[] = [];
  ring = new Ring(0);
  add(n: ZkNode, rebuild = true): void {
    for (let w = 1; w <= n.worker_cnt; w++) {
      const points = vnodePoints(memberId(n.host, n.port, w), 200).sort();
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
  const changeReps = quick ? 20 : 100;

  // Full build through the public API, and through restore() (one sort per ring).
  const buildMs: number[] = [];
  const restoreMs: number[] = [];
  let table = build();
  const snap = table.snapshot();
  for (let r = 0; r < reps; r++) {
    gc();
    let t0 = performance.now();
    table = build();
    buildMs.push(performance.now() - t0);
    gc();
    t0 = performance.now();
    new Nodes().restore(snap).version;
    restoreMs.push(performance.now() - t0);
  }
  const points = table.pointCount(TYPE);

  // Heap per node: the whole table, rings and maps included.
  table = undefined as unknown as Nodes;
  const heap0 = heapBytes();
  table = build();
  const heapPerNode = (heapBytes() - heap0) / NODES;

  // Add and remove of one node at 800k points.
  const addMs: number[] = [];
  const removeMs: number[] = [];
  for (let r = 0; r < changeReps; r++) {
    const n = node(NODES + r);
    // Inserts merge on the next lookup, so a lookup is part of the timed add (and of the remove).
    let t0 = performance.now();
    table.addZkNode(n);
    table.getNodeInHash(TYPE, n.path);
    addMs.push(performance.now() - t0);
    t0 = performance.now();
    table.delZkNode(n.path);
    table.getNodeInHash(TYPE, n.path);
    removeMs.push(performance.now() - t0);
  }

  // A drain slice applies up to 100 changes before anyone looks up: deferred work should be paid once
  // per slice, not once per change. Each repetition removes 100 nodes one by one and looks up once,
  // then puts them back the same way (both timed separately).
  const remove100Ms: number[] = [];
  const add100Ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const batch = Array.from({ length: 100 }, (_, i) => node(((r * 100 + i) * 7) % NODES));
    let t0 = performance.now();
    for (const n of batch) table.delZkNode(n.path);
    table.getNodeInHash(TYPE, 'x');
    remove100Ms.push(performance.now() - t0);
    t0 = performance.now();
    for (const n of batch) table.addZkNode(n);
    table.getNodeInHash(TYPE, 'x');
    add100Ms.push(performance.now() - t0);
  }

  // Lookups: string keys (hashed from the string, no encoding), numbers and bytes.
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
  // A server hashes keys it has just parsed, so they sit in cache: the headline figure cycles a
  // 64k-key working set (random over the ring). The 1M-distinct-key figure adds a cache miss per key
  // string and is reported beside it.
  const hot = 1 << 16;
  const hotRates: number[] = [];
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
  hotRates.shift(); // warm-up
  stringRates.shift();
  numberRates.shift();
  byteRates.shift();

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

  const results = {
    lookups_per_s: Math.round(median(hotRates)),
    add_ms: round(median(addMs)),
    remove_ms: round(median(removeMs)),
    build_ms: round(median(buildMs), 1),
    heap_bytes_per_node: Math.round(heapPerNode),
    points,
    rebuild_baseline: { add_ms: round(median(baseAdd)), remove_ms: round(median(baseRemove)) },
    // Extras, beyond the contract.
    lookups_per_s_1m_distinct_keys: Math.round(median(stringRates)),
    lookups_per_s_number_keys: Math.round(median(numberRates)),
    lookups_per_s_byte_keys: Math.round(median(byteRates)),
    add_ms_p99: round([...addMs].sort((a, b) => a - b)[Math.floor(addMs.length * 0.99)]),
    remove_ms_p99: round([...removeMs].sort((a, b) => a - b)[Math.floor(removeMs.length * 0.99)]),
    remove_100_then_lookup_ms: round(median(remove100Ms)),
    add_100_then_lookup_ms: round(median(add100Ms)),
    restore_ms: round(median(restoreMs), 1),
    nodes: NODES,
    workers: WORKERS,
    repetitions: { build: reps, change: changeReps, lookups: reps },
    sink: sink > 0,
  };
  const row = (name: string, value: string, target = '') =>
    `${name.padEnd(34)}${value.padStart(14)}  ${target}`;
  const text = [
    `nodes: ${NODES} nodes × ${WORKERS} workers, ${points} points (medians)`,
    row(
      'lookups/s (string keys, 64k set)',
      results.lookups_per_s.toLocaleString('en-US'),
      'target ≥ 5,000,000',
    ),
    row('lookups/s (1M distinct strings)', results.lookups_per_s_1m_distinct_keys.toLocaleString('en-US')),
    row('lookups/s (number keys)', results.lookups_per_s_number_keys.toLocaleString('en-US')),
    row('lookups/s (Uint8Array keys)', results.lookups_per_s_byte_keys.toLocaleString('en-US')),
    row('add one node (ms)', String(results.add_ms), `p99 ${results.add_ms_p99}; target ≤ 2`),
    row('remove one node (ms)', String(results.remove_ms), `p99 ${results.remove_ms_p99}; target ≤ 2`),
    row('remove 100 nodes, 1 lookup (ms)', String(results.remove_100_then_lookup_ms), 'total'),
    row('add 100 nodes, 1 lookup (ms)', String(results.add_100_then_lookup_ms), 'total'),
    row('rebuild baseline: add (ms)', String(results.rebuild_baseline.add_ms)),
    row('rebuild baseline: remove (ms)', String(results.rebuild_baseline.remove_ms)),
    row('build 1,000 nodes via addZkNode (ms)', String(results.build_ms), 'target ≤ 500'),
    row('build via restore(snapshot) (ms)', String(results.restore_ms)),
    row('heap bytes per node', results.heap_bytes_per_node.toLocaleString('en-US')),
  ].join('\n');
  return { results, table: text };
};

export default bench;
