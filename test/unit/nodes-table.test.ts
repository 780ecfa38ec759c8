// The node table: kimserver's lookup vectors, upserts without ghost members, collisions, host:port
// de-duplication, versions, refusals, children diffs, snapshots and change reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodesChange, ZkNode } from '../../src/index.js';
import { hashKey, Nodes, validateZkNode } from '../../src/index.js';
import { memberId, vnodePoints } from '../../src/nodes/vnodes.js';
import { collidingServers } from '../fixtures/cluster-churn.js';
import { node, sample, sampleNodes } from './nodes-sample.js';

const KEYS = Array.from({ length: 2000 }, (_, i) => `user:${i}`);

function table(nodes: ZkNode[], opts = {}): Nodes {
  const t = new Nodes(opts);
  for (const n of nodes) assert.ok(t.addZkNode(n), t.lastRefusal);
  return t;
}

/** Member id serving each of KEYS. */
const answers = (t: Nodes, type = 'logic'): (string | undefined)[] =>
  KEYS.map((k) => t.getNodeInHash(type, k)?.id);

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

test('every sample lookup vector matches (nodes inserted in the listed order)', () => {
  const t = table(sampleNodes);
  assert.equal(t.pointCount('logic'), 10 * 200);
  for (const v of sample.lookup) {
    const bytes = Buffer.from(v.key_hex, 'hex');
    const want = v.node_id;
    assert.equal(t.getNodeInHash('logic', bytes)?.id, want, `bytes ${v.key_hex}`);
    assert.equal(t.getNodeInHash('logic', bytes.toString('utf8'))?.id, want, `string ${v.key_hex}`);
    const got = t.getNodeInHash('logic', bytes)!;
    assert.equal(`${got.host}:${got.port}.${got.workerIndex}`, want);
  }
});

test('sample lookups do not depend on insertion order: its 2,000 points have no collision', () => {
  // kimserver's first-insert-wins rule only matters for equal points; the sample ring has none, so
  // the listed order and every other order give the same answers.
  const all = sample.nodes.flatMap((n) =>
    Array.from({ length: n.worker_cnt }, (_, w) => [...vnodePoints(memberId(n.host, n.port, w + 1), 200)]),
  );
  assert.equal(new Set(all.flat()).size, 2000);
  const ref = answers(table(sampleNodes));
  for (const order of permutations(sampleNodes)) {
    const t = table(order);
    assert.deepEqual(answers(t), ref);
    for (const v of sample.lookup)
      assert.equal(t.getNodeInHash('logic', Buffer.from(v.key_hex, 'hex'))?.id, v.node_id);
  }
});

test('number keys hash as their decimal string; non-integers and unknown types find nothing', () => {
  const t = table(sampleNodes);
  for (const n of [0, 7, 153, -42, 2 ** 40])
    assert.deepEqual(t.getNodeInHash('logic', n), t.getNodeInHash('logic', String(n)));
  assert.equal(t.getNodeInHash('logic', 1.5), undefined);
  assert.equal(t.getNodeInHash('gate', 'x'), undefined);
  assert.equal(new Nodes().getNodeInHash('logic', 'x'), undefined);
});

test('the hash option selects the key hash', () => {
  for (const alg of ['fnv1_64', 'murmur3_32'] as const) {
    const t = table(sampleNodes, { hash: alg });
    for (const k of KEYS.slice(0, 200)) {
      const h = hashKey(alg, Buffer.from(k));
      assert.deepEqual(t.getNodeInHash('logic', k), t.getNodeByHash('logic', h));
    }
  }
});

test('lookup answers carry the member: id, type, host, numeric port, worker index', () => {
  const t = table([{ ...node(1), port: '4321' as unknown as number, worker_cnt: 1 }]);
  assert.deepEqual(
    { ...t.getNodeInHash('logic', 'k')! },
    {
      id: '10.1.0.1:4321.1',
      type: 'logic',
      host: '10.1.0.1',
      port: 4321,
      workerIndex: 1,
    },
  );
});

test('changing worker_cnt, host or port replaces exactly that node’s members (no ghosts)', () => {
  const others = [node(1), node(2), node(3)];
  const base = node(4, { worker_cnt: 3 });
  for (const next of [
    { ...base, worker_cnt: 2 },
    { ...base, worker_cnt: 5 },
    { ...base, host: '10.9.9.9' },
    { ...base, port: 5999 },
    { ...base, host: '10.9.9.9', port: 5999, worker_cnt: 1 },
  ]) {
    const t = table([...others, base]);
    assert.ok(t.addZkNode(next));
    const fresh = table([...others, next]);
    assert.equal(t.pointCount(), fresh.pointCount());
    assert.deepEqual(answers(t), answers(fresh));
    // kimserver's loop `for (i = 1; i < old.worker_cnt; i++)` left member old.worker_cnt behind.
    const ghost = memberId(base.host, base.port, base.worker_cnt);
    if (next.host !== base.host || next.port !== base.port || next.worker_cnt < base.worker_cnt) {
      assert.ok(!answers(t).includes(ghost));
    }
  }
});

test('removing a member removes only its own points, even when another member collides', () => {
  // 500 nodes × 4 workers × 200 points: about 18 collisions are expected (birthday bound).
  const nodes = Array.from({ length: 500 }, (_, i) => node(i));
  const owner = new Map<number, { node: number; id: string }>();
  const collisions: {
    point: number;
    first: { node: number; id: string };
    second: { node: number; id: string };
  }[] = [];
  nodes.forEach((n, i) => {
    for (let w = 1; w <= n.worker_cnt; w++) {
      const id = memberId(n.host, n.port, w);
      for (const p of vnodePoints(id, 200)) {
        const prev = owner.get(p);
        if (prev === undefined) owner.set(p, { node: i, id });
        else if (prev.node !== i) collisions.push({ point: p, first: prev, second: { node: i, id } });
      }
    }
  });
  assert.ok(collisions.length > 0, 'expected at least one collision');
  const t = table(nodes);
  for (const c of collisions) {
    // First insert wins, as with kimserver's std::map::insert.
    assert.equal(t.getNodeByHash('logic', c.point)?.id, c.first.id);
  }
  const c = collisions[0];
  // Removing the loser must leave the winner's equal point alone.
  const t2 = table(nodes);
  assert.ok(t2.delZkNode(nodes[c.second.node].path));
  assert.equal(t2.getNodeByHash('logic', c.point)?.id, c.first.id);
  const before = t.pointCount();
  assert.ok(t.delZkNode(nodes[c.first.node].path));
  assert.equal(t.pointCount(), before - 800);
  // The loser's point is still in the ring (kimserver erased it along with the winner's).
  assert.equal(t.getNodeByHash('logic', c.point)?.id, c.second.id);
  // Back in, the re-added node is now the later insert, so it loses the tie.
  assert.ok(t.addZkNode(nodes[c.first.node]));
  assert.equal(t.getNodeByHash('logic', c.point)?.id, c.second.id);
});

test('two paths with one host:port are one server: newest active_time serves, the other comes back', () => {
  const older = node(1, { active_time: 100 });
  const newer = node(2, { host: older.host, port: older.port, active_time: 200, worker_cnt: 2 });
  const t = table([node(3), older]);
  const v0 = t.version;
  const events: NodesChange[] = [];
  t.on('change', (c) => events.push(c));

  const r = t.upsert(newer);
  assert.ok(r.ok);
  assert.deepEqual(r.change.removed, [older]);
  assert.deepEqual(r.change.added, [newer]);
  assert.equal(t.version, v0 + 1);
  assert.equal(t.pointCount(), 4 * 200 + 2 * 200);
  assert.deepEqual(answers(t), answers(table([node(3), newer])));
  assert.deepEqual(
    t.list().map((n) => n.path),
    [node(3).path, newer.path],
  );
  assert.equal(t.size, 3);

  // An even older path for the same server is stored but shadowed: version moves, the ring does not.
  const oldest = node(4, { host: older.host, port: older.port, active_time: 50 });
  const r2 = t.upsert(oldest);
  assert.ok(r2.ok);
  assert.deepEqual(r2.change, { version: v0 + 2, added: [], removed: [], changed: [] });
  assert.equal(events.length, 1);

  // The serving path goes: the newest remaining one serves again.
  const del = t.remove(newer.path);
  assert.deepEqual(del.removed, [newer]);
  assert.deepEqual(del.added, [older]);
  assert.deepEqual(answers(t), answers(table([node(3), older])));
  assert.ok(t.delZkNode(older.path));
  assert.deepEqual(answers(t), answers(table([node(3), oldest])));
  assert.ok(t.delZkNode(oldest.path));
  assert.deepEqual(answers(t), answers(table([node(3)])));
  assert.equal(t.pointCount(), 800);
});

test('equal active_time: the greater path (later sequential znode) serves, in any order', () => {
  const a = node(1, { active_time: 7 });
  const b = node(2, { host: a.host, port: a.port, active_time: 7, worker_cnt: 1 });
  for (const order of [
    [a, b],
    [b, a],
  ]) {
    const t = table(order);
    assert.deepEqual(t.list(), [b]);
  }
});

test('an identical newer registration of a running server swaps paths without touching the ring', () => {
  const a = node(1, { active_time: 1 });
  const b = { ...a, path: `${a.path}-restarted`, active_time: 2 };
  const t = table([node(5), a]);
  const before = answers(t);
  const r = t.upsert(b);
  assert.ok(r.ok);
  assert.deepEqual(r.change.removed, [a]);
  assert.deepEqual(r.change.added, [b]);
  assert.deepEqual(answers(t), before);
});

test('version: bumps on real changes only, never goes back (clear included)', () => {
  const t = new Nodes();
  assert.equal(t.version, 0);
  assert.ok(t.addZkNode(node(1)));
  assert.equal(t.version, 1);
  assert.ok(t.addZkNode({ ...node(1), port: String(node(1).port) }), 'same data, port as string: a no-op');
  assert.equal(t.version, 1);
  assert.equal(t.delZkNode('/nope'), false);
  assert.equal(t.addZkNode({ ...node(1), worker_cnt: 0 }), false);
  assert.equal(t.version, 1);
  const changed = t.upsert({ ...node(1), active_time: 5 });
  assert.ok(changed.ok);
  assert.deepEqual(changed.change.changed, [{ old: node(1), new: { ...node(1), active_time: 5 } }]);
  assert.equal(t.version, 2);
  assert.ok(t.delZkNode(node(1).path));
  assert.equal(t.version, 3);
  assert.ok(t.addZkNode(node(2)));
  const cleared = t.clear();
  assert.deepEqual(cleared.removed, [node(2)]);
  assert.equal(t.version, 5);
  assert.equal(t.clear().version, 5, 'clearing an empty table changes nothing');
  assert.equal(t.pointCount(), 0);
  assert.equal(t.getNodeInHash('logic', 'x'), undefined);
  t.advanceVersion(3);
  assert.equal(t.version, 5);
  t.advanceVersion(40);
  assert.equal(t.version, 40);
});

test('bad records are refused with a reason that names the field', () => {
  const good = node(1);
  const cases: [unknown, RegExp][] = [
    [null, /node must be an object/],
    [[good], /node must be an object/],
    [{ ...good, path: '' }, /^path /],
    [{ ...good, path: 'relative/x' }, /^path /],
    [{ ...good, type: undefined }, /^type /],
    [{ ...good, type: 'a/b' }, /^type /],
    [{ ...good, host: '' }, /^host /],
    [{ ...good, host: 'a b' }, /^host /],
    [{ ...good, port: 0 }, /^port /],
    [{ ...good, port: 70000 }, /^port /],
    [{ ...good, port: '12a' }, /^port /],
    [{ ...good, port: 1.5 }, /^port /],
    [{ ...good, worker_cnt: 0 }, /^worker_cnt must be an integer from 1 to 1024$/],
    [{ ...good, worker_cnt: 1025 }, /^worker_cnt /],
    [{ ...good, worker_cnt: 2.5 }, /^worker_cnt /],
    [{ ...good, worker_cnt: '4' }, /^worker_cnt /],
    [{ ...good, active_time: undefined }, /^active_time /],
    [{ ...good, active_time: Number.NaN }, /^active_time /],
  ];
  const t = new Nodes();
  for (const [input, reason] of cases) {
    const check = validateZkNode(input);
    assert.equal(check.ok, false);
    assert.match(check.ok ? '' : check.reason, reason);
    assert.equal(t.addZkNode(input), false);
    assert.match(t.lastRefusal ?? '', reason);
    const r = t.upsert(input);
    assert.ok(!r.ok && reason.test(r.reason));
  }
  assert.equal(t.version, 0);
  assert.equal(t.size, 0);
  // Accepted forms: port as a decimal string, fractional epoch seconds; extra fields are dropped.
  const ok = validateZkNode({ ...good, port: '3344', active_time: 1.6e9 + 0.25, extra: 1 });
  assert.deepEqual(ok, { ok: true, node: { ...good, port: 3344, active_time: 1.6e9 + 0.25 } });
  assert.ok(t.addZkNode(good));
  assert.equal(t.lastRefusal, undefined);
});

test('applyChildren: child names under {root}/{type}; deletes vanished paths, lists unknown ones', () => {
  const t = new Nodes({ root: '/kim/nodes/' });
  const p = (type: string, name: string) => `/kim/nodes/${type}/${name}`;
  const mk = (type: string, name: string, i: number) => ({ ...node(i, { type }), path: p(type, name) });
  for (const [i, name] of ['a', 'b', 'c'].entries()) assert.ok(t.addZkNode(mk('logic', name, i)));
  assert.ok(t.addZkNode(mk('gate', 'a', 9)));
  const v = t.version;

  const diff = t.applyChildren('logic', ['b', 'c', 'd', 'e']);
  assert.deepEqual(diff.removed, [p('logic', 'a')]);
  assert.deepEqual(diff.added, [p('logic', 'd'), p('logic', 'e')]);
  assert.deepEqual(diff.change.removed, [mk('logic', 'a', 0)]);
  assert.equal(t.version, v + 1);
  assert.equal(t.get(p('logic', 'a')), undefined);
  assert.ok(t.get(p('gate', 'a')), 'other types are untouched');

  const none = t.applyChildren('logic', ['b', 'c']);
  assert.deepEqual([none.added, none.removed], [[], []]);
  assert.equal(t.version, v + 1);

  const all = t.applyChildren('logic', []);
  assert.deepEqual(all.removed.sort(), [p('logic', 'b'), p('logic', 'c')]);
  assert.equal(t.pointCount('logic'), 0);
  assert.equal(t.pointCount('gate'), 800);
});

test('snapshot is plain JSON; restore reproduces answers, collision order and the version', () => {
  const nodes = Array.from({ length: 300 }, (_, i) => node(i));
  const primary = table(nodes);
  // Move a node to the end of the insertion order, and add a shadowed path.
  assert.ok(primary.delZkNode(nodes[0].path));
  assert.ok(primary.addZkNode(nodes[0]));
  assert.ok(primary.addZkNode(node(999, { host: nodes[1].host, port: nodes[1].port, active_time: 1 })));

  const wire = JSON.parse(JSON.stringify(primary.snapshot()));
  assert.equal(wire.nodes.length, 301);
  const replica = new Nodes();
  const events: NodesChange[] = [];
  replica.on('change', (c) => events.push(c));
  const change = replica.restore(wire);
  assert.equal(change.added.length, 300);
  assert.equal(events.length, 1);
  assert.equal(replica.version, primary.version);
  assert.deepEqual(answers(replica), answers(primary));
  assert.deepEqual(replica.list(), primary.list());
  // Ring order, hence every collision, is the same: compare every point's owner.
  for (const n of nodes) {
    for (let w = 1; w <= n.worker_cnt; w++) {
      for (const p of vnodePoints(memberId(n.host, n.port, w), 200)) {
        assert.equal(replica.getNodeByHash('logic', p)?.id, primary.getNodeByHash('logic', p)?.id);
      }
    }
  }
  // The shadowed path is carried: deleting the winner brings it back on the replica too.
  assert.ok(replica.delZkNode(nodes[1].path));
  assert.equal(replica.list().find((n) => n.host === nodes[1].host)?.path, node(999).path);

  // Same content again: nothing changes. Older snapshot on a newer table: version still goes up.
  const again = table(nodes.slice(0, 5));
  const snap5 = again.snapshot();
  assert.deepEqual(again.restore(snap5), { version: again.version, added: [], removed: [], changed: [] });
  const ahead = table(nodes.slice(5, 8));
  ahead.advanceVersion(1000);
  const diff = ahead.restore(snap5);
  assert.equal(ahead.version, 1001);
  assert.equal(diff.added.length, 5);
  assert.equal(diff.removed.length, 3);
  assert.deepEqual(answers(ahead), answers(again));
});

test("restore of the same nodes joined in another order takes the snapshot's order, and its answers at a tie", () => {
  // Two servers whose first members share a ring point: the one that joined first serves it.
  const [a, b] = collidingServers(1);
  const pointsOf = (s: { host: string; port: number }) => vnodePoints(memberId(s.host, s.port, 1), 200);
  const tie = pointsOf(a).find((p) => pointsOf(b).includes(p)) as number;
  const at = (s: { host: string; port: number }, name: string) =>
    node(0, { path: `/kimserver/nodes/logic/${name}`, host: s.host, port: s.port, worker_cnt: 1 });
  const primary = table([at(b, 'b'), at(a, 'a')]);
  const replica = table([at(a, 'a'), at(b, 'b')]);
  assert.notEqual(replica.getNodeByHash('logic', tie)?.id, primary.getNodeByHash('logic', tie)?.id);

  replica.restore(JSON.parse(JSON.stringify(primary.snapshot())));
  assert.deepEqual(replica.snapshot().nodes, primary.snapshot().nodes);
  assert.equal(replica.getNodeByHash('logic', tie)?.id, primary.getNodeByHash('logic', tie)?.id);
});

test('restore refuses malformed snapshots and other ring layouts, naming the problem', () => {
  const snap = table([node(1)]).snapshot();
  const t = new Nodes();
  assert.throws(() => t.restore({ ...snap, format: 'x' }), /snapshot\.format/);
  assert.throws(() => t.restore({ ...snap, version: -1 }), /snapshot\.version/);
  assert.throws(
    () => t.restore({ ...snap, nodes: [[...snap.nodes[0].slice(0, 4), 0, 1]] }),
    /nodes\[0\]: worker_cnt/,
  );
  assert.throws(() => t.restore({ ...snap, nodes: [snap.nodes[0], snap.nodes[0]] }), /repeats/);
  assert.throws(() => new Nodes({ vnodeCount: 160 }).restore(snap), /ring layout/);
  assert.equal(t.version, 0);
});

test('change events: added, removed, changed with old and new; ring data changes only where needed', () => {
  const t = new Nodes();
  const events: NodesChange[] = [];
  t.on('change', (c) => events.push(c));
  t.addZkNode(node(1));
  t.addZkNode(node(2));
  const before = answers(t);
  t.addZkNode({ ...node(2), active_time: 9 }); // data change, same ring data
  assert.deepEqual(answers(t), before);
  t.addZkNode({ ...node(2), active_time: 9, worker_cnt: 1 });
  t.delZkNode(node(1).path);
  assert.deepEqual(
    events.map((e) => [e.version, e.added.length, e.removed.length, e.changed.length]),
    [
      [1, 1, 0, 0],
      [2, 1, 0, 0],
      [3, 0, 0, 1],
      [4, 0, 0, 1],
      [5, 0, 1, 0],
    ],
  );
  assert.deepEqual(events[3].changed[0], {
    old: { ...node(2), active_time: 9 },
    new: { ...node(2), active_time: 9, worker_cnt: 1 },
  });
  assert.equal(t.pointCount(), 200);
});

test('constructor options are checked', () => {
  assert.throws(() => new Nodes({ vnodeCount: 2 }), /vnodeCount/);
  assert.throws(() => new Nodes({ hash: 'md5' as never }), /hash must be one of/);
  assert.equal(new Nodes({ vnodeCount: 160 }).vnodeCount, 160);
});

test('a throwing change or step listener never aborts a table update; it is reported and counted', () => {
  const reported: { err: unknown; event: string }[] = [];
  const t = new Nodes({ onListenerError: (err, event) => reported.push({ err, event }) });
  for (let i = 0; i < 3; i++) assert.ok(t.addZkNode(node(i)));
  const reference = table([node(0), node(1), node(2)]);
  const seen: string[] = [];
  t.on('step', () => {
    throw new Error('step listener failed');
  });
  t.on('change', () => {
    throw new Error('change listener failed');
  });
  t.on('change', (c) => seen.push(`change ${c.version}`));
  t.once('step', (s) => seen.push(`step ${s.version}`));

  // Three removals in one diff: every one is applied though each step listener throws.
  const diff = t.applyChildren('logic', []);
  assert.equal(diff.removed.length, 3);
  assert.equal(t.size, 0);
  assert.equal(t.pointCount('logic'), 0);
  assert.equal(diff.change.removed.length, 3);
  // An upsert returns its change normally, and the table answers as one that nobody listens to.
  const up = t.upsert(node(7));
  assert.ok(up.ok);
  for (const n of [node(0), node(1), node(2)]) reference.delZkNode(n.path);
  reference.addZkNode(node(7));
  assert.deepEqual(answers(t), answers(reference));

  // Other listeners still ran, a once() listener once, in order.
  assert.deepEqual(seen, ['step 4', `change ${diff.change.version}`, `change ${t.version}`]);
  assert.equal(t.listenerErrors, 3 + 1 + 1 + 1, '4 steps and 2 changes, each with one throwing listener');
  assert.deepEqual(
    reported.map((r) => r.event),
    ['step', 'step', 'step', 'change', 'step', 'change'],
  );
  assert.match(String(reported[0].err), /step listener failed/);
});
