// Precomputed ring points (upsert(node, memberPoints)): the answers are exactly those of the path that
// computes them, and a wrong shape refuses the node without touching the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ZkNode } from '../../src/index.js';
import { Nodes } from '../../src/index.js';
import { memberId, vnodePoints } from '../../src/nodes/vnodes.js';
import { sample, sampleNodes } from './nodes-sample.js';

const KEYS = Array.from({ length: 1500 }, (_, i) => `user:${i * 31}`);
const answers = (t: Nodes): (string | undefined)[] => KEYS.map((k) => t.getNodeInHash('logic', k)?.id);

/** What the bio thread sends: one array per worker 1..worker_cnt, generation order. */
const pointsOf = (n: ZkNode, vnodeCount = 200): Uint32Array[] =>
  Array.from({ length: n.worker_cnt }, (_, i) => vnodePoints(memberId(n.host, n.port, i + 1), vnodeCount));

test('kimserver sample vectors hold with precomputed points', () => {
  const t = new Nodes();
  for (const n of sampleNodes) assert.ok(t.addZkNode(n, pointsOf(n)), t.lastRefusal);
  for (const v of sample.lookup) {
    assert.equal(t.getNodeInHash('logic', Buffer.from(v.key_hex, 'hex'))?.id, v.node_id, v.key_hex);
  }
});

test('precomputed and computed points give the same answers, snapshots and versions under churn', () => {
  const nodeArb = fc.record({
    slot: fc.integer({ min: 0, max: 5 }),
    host: fc.constantFrom('10.0.0.1', '10.0.0.2', 'gate.internal'),
    port: fc.integer({ min: 3000, max: 3003 }),
    worker_cnt: fc.integer({ min: 1, max: 4 }),
    active_time: fc.integer({ min: 0, max: 3 }),
  });
  const opArb = fc.oneof(fc.record({ set: nodeArb }), fc.record({ del: fc.integer({ min: 0, max: 5 }) }));
  // Sizes up to the maxima: at fast-check's default small sizes, 60 runs made ~6 ops each, and in all
  // replaced ~30 present nodes (~20 with another worker count), set ~16 nodes on a server another path
  // held, deleted ~30 present nodes and ~4 whose server another path then served.
  let replaced = 0;
  let workersChanged = 0;
  let contested = 0;
  let delPresent = 0;
  let unshadowed = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }), (ops) => {
      const computed = new Nodes();
      const given = new Nodes();
      const present = new Map<number, ZkNode>();
      /** Another path than slot's holds n's server (host:port). */
      const shared = (slot: number, n: ZkNode) =>
        [...present].some(([s, m]) => s !== slot && m.host === n.host && m.port === n.port);
      for (const op of ops) {
        if ('set' in op) {
          const { slot, ...rest } = op.set;
          const n: ZkNode = { path: `/kimserver/nodes/logic/n${slot}`, type: 'logic', ...rest };
          const prev = present.get(slot);
          if (prev) replaced++;
          if (prev && prev.worker_cnt !== n.worker_cnt) workersChanged++;
          if (shared(slot, n)) contested++;
          present.set(slot, n);
          assert.deepEqual(given.upsert(n, pointsOf(n)), computed.upsert(n));
        } else {
          const path = `/kimserver/nodes/logic/n${op.del}`;
          const prev = present.get(op.del);
          if (prev) delPresent++;
          // Its server has another path, which serves (again, if this one served) with its own points.
          if (prev && shared(op.del, prev)) unshadowed++;
          present.delete(op.del);
          assert.equal(given.delZkNode(path), computed.delZkNode(path));
        }
        assert.deepEqual(answers(given), answers(computed));
      }
      assert.deepEqual(given.snapshot(), computed.snapshot());
    }),
    { numRuns: 60 },
  );
  // The runs must replace nodes, change their workers, share servers and hand them over, many times over.
  assert.ok(
    replaced >= 150 && workersChanged >= 100 && contested >= 60 && delPresent >= 150 && unshadowed >= 20,
    `${replaced} nodes replaced (${workersChanged} with other workers), ${contested} sets on a server ` +
      `another path held, ${delPresent} deleted (${unshadowed} handing their server to another path)`,
  );
});

test('colliding points: the first insert wins with precomputed points too', () => {
  // vnodeCount 4: one MD5 group per member; give two members the same points by hand.
  const a: ZkNode = {
    path: '/kimserver/nodes/logic/a',
    type: 'logic',
    host: 'h',
    port: 1,
    worker_cnt: 1,
    active_time: 1,
  };
  const b: ZkNode = { ...a, path: '/kimserver/nodes/logic/b', port: 2 };
  const shared = [Uint32Array.of(10, 20, 30, 40)];
  const t = new Nodes({ vnodeCount: 4 });
  assert.ok(t.addZkNode(a, shared));
  assert.ok(t.addZkNode(b, shared));
  assert.equal(t.getNodeByHash('logic', 15)?.id, 'h:1.1');
  assert.ok(t.delZkNode(a.path));
  assert.equal(t.getNodeByHash('logic', 15)?.id, 'h:2.1');
});

test('the caller’s arrays are neither modified nor kept', () => {
  const n = sampleNodes[0];
  const pts = pointsOf(n);
  const copy = pts.map((p) => p.slice());
  const t = new Nodes();
  assert.ok(t.addZkNode(n, pts));
  assert.deepEqual(pts, copy);
  const before = answers(t);
  for (const p of pts) p.fill(0);
  assert.deepEqual(answers(t), before);
});

test('a wrong shape refuses the node with a reason and leaves the table as it was', () => {
  const t = new Nodes();
  for (const n of sampleNodes.slice(0, 3)) assert.ok(t.addZkNode(n));
  const before = { version: t.version, answers: answers(t), snap: t.snapshot() };
  const n = { ...sampleNodes[3], worker_cnt: 2 };
  const good = pointsOf(n);
  const bad: [unknown, RegExp][] = [
    [[good[0]], /memberPoints must be an array of 2 Uint32Array/],
    [[...good, good[0]], /memberPoints must be an array of 2 Uint32Array/],
    [[good[0], good[1].subarray(1)], /memberPoints\[1\] must be a Uint32Array of 200 points \(worker 2\)/],
    [[good[0], new Float64Array(200)], /memberPoints\[1\] must be a Uint32Array of 200 points/],
    [[[...good[0]], good[1]], /memberPoints\[0\] must be a Uint32Array/],
    ['points', /memberPoints must be an array/],
  ];
  for (const [pts, reason] of bad) {
    const r = t.upsert(n, pts as Uint32Array[]);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.reason, reason);
    assert.match(t.lastRefusal ?? '', reason);
    assert.equal(t.addZkNode(n, pts as Uint32Array[]), false);
  }
  assert.equal(t.version, before.version);
  assert.deepEqual(answers(t), before.answers);
  assert.deepEqual(t.snapshot(), before.snap);
  // An invalid record is still refused for the record, before its points are looked at.
  const r = t.upsert({ ...n, port: 0 }, good);
  assert.match(r.ok ? '' : r.reason, /port/);
  assert.ok(t.addZkNode(n, good));
  assert.equal(t.lastRefusal, undefined);
});

test('a shadowed node serving again gets its own points, not the ones given for another path', () => {
  const old: ZkNode = { ...sampleNodes[0], path: '/kimserver/nodes/logic/p1', active_time: 1 };
  const fresh: ZkNode = { ...old, path: '/kimserver/nodes/logic/p2', active_time: 2, worker_cnt: 1 };
  const given = new Nodes();
  const computed = new Nodes();
  for (const t of [given, computed]) assert.ok(t.addZkNode(old));
  assert.ok(given.addZkNode(fresh, pointsOf(fresh)));
  assert.ok(computed.addZkNode(fresh));
  assert.deepEqual(answers(given), answers(computed));
  for (const t of [given, computed]) assert.ok(t.delZkNode(fresh.path));
  assert.deepEqual(answers(given), answers(computed));
  assert.equal(given.pointCount('logic'), old.worker_cnt * 200);
});
