// Deferred ring work under churn: adds, removes, changes and lookups interleaved in random order must
// answer at every lookup exactly like a ring rebuilt from scratch, in insertion order, from the members
// present then (for each point value, the member inserted first among those present wins).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NodesChange, NodesStep, ZkNode } from '../../src/index.js';
import { Nodes } from '../../src/index.js';
import { Ring } from '../../src/nodes/ring.js';
import { memberId, vnodePoints } from '../../src/nodes/vnodes.js';

/** The point a ring rebuilt from these members answers h from: the first point >= h, wrapping. */
function referencePoint(members: readonly { points: Iterable<number> }[], h: number): number | undefined {
  const points = [...new Set(members.flatMap((m) => [...m.points]))].sort((a, b) => a - b);
  return points.find((p) => p >= h) ?? points[0];
}

/** The reference: the owner of that point, the first member holding it in insertion order. */
function referenceFind<T>(
  members: readonly { points: Iterable<number>; owner: T }[],
  h: number,
): T | undefined {
  const p = referencePoint(members, h);
  return p === undefined ? undefined : members.find((m) => [...m.points].includes(p))?.owner;
}

// Few distinct values, so members collide often, spread over buckets and both ends of the range.
const POINTS = [
  0, 1, 2, 3, 5, 8, 0xfffe, 0xffff, 0x10000, 0x10001, 0x12345678, 0x80000000, 0x8000ffff, 0xfffffffe,
  0xffffffff,
];
const PROBES = [...new Set(POINTS.flatMap((p) => [p, p + 1, p - 1]))].filter(
  (p) => p >= 0 && p <= 0xffffffff,
);

test('Ring: interleaved inserts, removals, changes and lookups answer like a ring rebuilt from scratch', () => {
  // Sizes up to the maxima, small members beside large ones and more adds than removals, so the ring grows
  // past 16 times what is queued and lookups merge it point by point: at fast-check's default small sizes,
  // 500 runs made ~5 ops each, never merged point by point (every flush was a fresh layout), removed 155
  // members present in the ring (16 behind an older member's equal point) and met 29 tied points.
  const pointsOf = (maxLength: number) =>
    fc
      .array(fc.constantFrom(...POINTS), { minLength: 1, maxLength, size: 'max' })
      .map((a) => Uint32Array.from(a).sort());
  const pointsArb = fc.oneof(pointsOf(12), pointsOf(2));
  const opArb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ add: pointsArb }) },
    { weight: 1, arbitrary: fc.record({ remove: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ change: fc.tuple(fc.nat(), pointsArb) }) },
    { weight: 3, arbitrary: fc.record({ lookup: fc.constantFrom(...PROBES) }) },
  );
  let pointByPoint = 0;
  let reused = 0;
  let removedPresent = 0;
  let removedBehindTie = 0;
  let ties = 0;
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 150, size: 'max' }), (ops) => {
      const ring = new Ring();
      // Live members in insertion order; freed slots are reused last-freed first, as the table does.
      type Member = { points: Uint32Array; owner: number };
      let live: Member[] = [];
      const free: number[] = [];
      let nextSlot = 0;
      // Members added since the last lookup: still queued, not in the ring's buckets.
      const queued = new Set<Member>();
      const add = (points: Uint32Array) => {
        if (free.length > 0) reused++;
        const m = { points, owner: free.length > 0 ? free.pop()! : nextSlot++ };
        ring.insert(points, m.owner);
        live.push(m);
        queued.add(m);
      };
      const remove = (pick: number) => {
        const m = live[pick % live.length];
        if (!queued.delete(m)) {
          removedPresent++;
          // An older member's equal point comes before this one's entry.
          const older = live.slice(0, live.indexOf(m));
          if (older.some((o) => o.points.some((p) => m.points.includes(p)))) removedBehindTie++;
        }
        ring.remove(m.points, m.owner);
        live = live.filter((x) => x !== m);
        free.push(m.owner);
      };
      for (const op of ops) {
        if ('add' in op) add(op.add);
        else if ('remove' in op) {
          if (live.length > 0) remove(op.remove);
        } else if ('change' in op) {
          // New ring data: the old member leaves and a new one joins as the newest insert.
          if (live.length > 0) remove(op.change[0]);
          add(op.change[1]);
        } else {
          // A queue under 1/16 of the ring is merged point by point, not by a fresh layout.
          const waiting = ring.length - ring.size;
          if (waiting > 0 && waiting * 16 < ring.size) pointByPoint++;
          queued.clear();
          const p = referencePoint(live, op.lookup);
          if (p !== undefined && live.filter((m) => m.points.includes(p)).length > 1) ties++;
          assert.equal(ring.find(op.lookup), referenceFind(live, op.lookup) ?? -1);
          assert.equal(
            ring.length,
            live.reduce((n, m) => n + m.points.length, 0),
          );
        }
      }
      for (const h of PROBES) assert.equal(ring.find(h), referenceFind(live, h) ?? -1);
    }),
    { numRuns: 500 },
  );
  // The runs must merge point by point, reuse slots, remove members from the buckets (behind an equal
  // point too) and answer from tied points, or they test fresh layouts of a few members only.
  assert.ok(
    pointByPoint >= 700 &&
      reused >= 4000 &&
      removedPresent >= 3500 &&
      removedBehindTie >= 2500 &&
      ties >= 3000,
    `${pointByPoint} point-by-point merges, ${reused} slots reused, ${removedPresent} members removed from the ` +
      `buckets (${removedBehindTie} behind an equal point), ${ties} lookups of a tied point`,
  );
});

test('Ring: bulk merges, point inserts, bucket moves and re-layouts keep the entries of a rebuilt ring', () => {
  // Members of up to 300 points, some clustered in a few buckets (they outgrow their room and move,
  // and use up the pool's tail), some spread; bursts of adds take the bulk merge, single adds the
  // point-by-point path, and removals shrink the ring enough to change its bucket bits.
  // size 'max': fast-check's default keeps arrays to a few elements, too few to fill a bucket's room.
  const spread = fc.uint32Array({ minLength: 1, maxLength: 300, size: 'max' });
  const clustered = fc
    .array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 300, size: 'max' })
    .map((a) => Uint32Array.from(a, (x) => (x < 20 ? x : 0xffffffff - x)));
  const pointsArb = fc.oneof(spread, clustered);
  const opArb = fc.oneof(
    { weight: 3, arbitrary: fc.record({ add: fc.array(pointsArb, { minLength: 1, maxLength: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ remove: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ lookup: fc.nat({ max: 0xffffffff }) }) },
  );
  // A base of 0 or 20,000 spread points: over a large base, small adds take the point-by-point path.
  const baseArb = fc.record({ size: fc.constantFrom(0, 20_000), seed: fc.integer({ min: 1 }) });
  fc.assert(
    fc.property(baseArb, fc.array(opArb, { maxLength: 30 }), (base, ops) => {
      const ring = new Ring();
      let live: { points: Uint32Array; owner: number }[] = [];
      let nextSlot = 0;
      if (base.size > 0) {
        let x = base.seed;
        const points = Uint32Array.from({ length: base.size }, () => {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          return x >>> 0;
        });
        ring.insert(points, nextSlot);
        live.push({ points, owner: nextSlot++ });
        ring.flush();
      }
      const check = (h: number) => {
        const want: number[] = [];
        const pairs = live.flatMap((m) => [...m.points].map((p) => [p, m.owner] as const));
        // A stable sort: equal points keep insertion order.
        pairs.sort((a, b) => a[0] - b[0]);
        for (const [p, o] of pairs) want.push(p, o);
        assert.deepEqual([...ring.entries()], want);
        assert.equal(ring.find(h), referenceFind(live, h) ?? -1);
      };
      for (const op of ops) {
        if ('add' in op) {
          for (const points of op.add) {
            ring.insert(points, nextSlot);
            live.push({ points, owner: nextSlot++ });
          }
        } else if ('remove' in op) {
          for (const pick of op.remove) {
            if (live.length === 0) break;
            const m = live[pick % live.length];
            ring.remove(m.points, m.owner);
            live = live.filter((x) => x !== m);
          }
        } else check(op.lookup);
        assert.equal(
          ring.length,
          live.reduce((n, m) => n + m.points.length, 0),
        );
      }
      check(0);
      check(0xffffffff);
    }),
    // No shrinking: with arrays this large it takes minutes; the seed and path reproduce a failure.
    { numRuns: 40, endOnFailure: true },
  );
});

test('Ring: a bucket that outgrows the pool tail again and again forces re-layouts and keeps every entry', () => {
  // 20,000 spread points (2^11 buckets, a tail of ~1,600 words), then single members of 20-300 points
  // at the two ends of the range, one insert at a time (each is small next to the ring, so it takes the
  // point-by-point path). The end buckets grow by half their length at every move: their moves use up
  // the tail after a few hundred entries, so the pool is laid out afresh, several times per run.
  const clustered = fc
    .array(fc.integer({ min: 0, max: 60 }), { minLength: 20, maxLength: 300, size: 'max' })
    .map((a) => Uint32Array.from(a, (x) => (x < 30 ? x : 0xffffffff - x)));
  const opArb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ add: clustered }) },
    { weight: 1, arbitrary: fc.record({ remove: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ lookup: fc.constantFrom(0, 29, 30, 0xffffffc3, 0xffffffff) }) },
  );
  fc.assert(
    fc.property(fc.integer({ min: 1 }), fc.array(opArb, { minLength: 30, maxLength: 40 }), (seed, ops) => {
      const ring = new Ring();
      let x = seed;
      const base = Uint32Array.from({ length: 20_000 }, () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return x >>> 0;
      });
      let live: { points: Uint32Array; owner: number }[] = [{ points: base, owner: 0 }];
      const free: number[] = [];
      let nextSlot = 1;
      ring.insert(base, 0);
      ring.flush();
      for (const op of ops) {
        if ('add' in op) {
          const owner = free.length > 0 ? free.pop()! : nextSlot++;
          ring.insert(op.add, owner);
          live.push({ points: op.add, owner });
          ring.flush();
        } else if ('remove' in op) {
          if (live.length < 2) continue;
          const m = live[1 + (op.remove % (live.length - 1))];
          ring.remove(m.points, m.owner);
          live = live.filter((y) => y !== m);
          free.push(m.owner);
        } else assert.equal(ring.find(op.lookup), referenceFind(live, op.lookup) ?? -1);
      }
      const pairs = live.flatMap((m) => [...m.points].map((p) => [p, m.owner] as const));
      pairs.sort((a, b) => a[0] - b[0]);
      assert.deepEqual([...ring.entries()], pairs.flat());
    }),
    { numRuns: 15, endOnFailure: true },
  );
});

test('Nodes: members in many points chunks keep their own points through slot reuse', () => {
  // 4,096 points per member: a points chunk holds 4 members, so 7 servers of 1-3 workers span chunks,
  // and the slots freed by a leaving server are reused by the next one to join.
  const vnodeCount = 4096;
  const t = new Nodes({ vnodeCount });
  const pointsOf = new Map<string, Uint32Array>();
  const points = (id: string): Uint32Array => {
    if (!pointsOf.has(id)) pointsOf.set(id, vnodePoints(id, vnodeCount));
    return pointsOf.get(id)!;
  };
  const server = (i: number, workers: number): ZkNode => ({
    path: `/kimserver/nodes/logic/n${i}`,
    type: 'logic',
    host: `10.2.0.${i}`,
    port: 5000,
    worker_cnt: workers,
    active_time: i,
  });
  const live = new Map<number, ZkNode>();
  // [server, workers]: 0 workers deletes it.
  const steps = [
    [1, 3],
    [2, 2],
    [3, 3],
    [4, 1],
    [2, 0],
    [5, 3],
    [1, 0],
    [6, 2],
    [7, 3],
    [3, 0],
    [8, 1],
  ];
  for (const [i, workers] of steps) {
    if (workers === 0) {
      assert.ok(t.delZkNode(server(i, 1).path));
      live.delete(i);
    } else {
      assert.ok(t.addZkNode(server(i, workers)));
      live.set(i, server(i, workers));
    }
    const members = [...live.values()].flatMap((n) =>
      Array.from({ length: n.worker_cnt }, (_, w) => {
        const owner = memberId(n.host, n.port, w + 1);
        return { points: points(owner), owner };
      }),
    );
    for (const n of live.values()) {
      const got = t.memberPoints(n.path)!;
      assert.equal(got.length, n.worker_cnt);
      for (const [w, p] of got.entries()) assert.deepEqual(p, points(memberId(n.host, n.port, w + 1)));
    }
    // Each member's first points, and the ends of the range: every member must answer for its own.
    const probes = [0, 0xffffffff, ...members.flatMap((m) => [m.points[0], m.points[1] + 1])];
    for (const h of probes)
      assert.equal(t.getNodeByHash('logic', h >>> 0)?.id, referenceFind(members, h >>> 0));
  }
});

// A small world of paths, servers (host:port) and types, so that paths shadow each other, servers
// change type and worker count, and members come and go in every order.
const PATHS = ['/kimserver/nodes/n1', '/kimserver/nodes/n2', '/kimserver/nodes/n3', '/kimserver/nodes/n4'];
const TYPES = ['gate', 'logic'];
const VNODES = 4;

const nodeArb = fc.record({
  path: fc.constantFrom(...PATHS),
  type: fc.constantFrom(...TYPES),
  host: fc.constantFrom('10.0.0.1', '10.0.0.2'),
  port: fc.constantFrom(3000, 3001),
  worker_cnt: fc.integer({ min: 1, max: 3 }),
  active_time: fc.integer({ min: 0, max: 2 }),
});

const serverKey = (n: ZkNode) => `${n.host}:${n.port}`;
const sameRingData = (a: ZkNode, b: ZkNode) =>
  a.type === b.type && a.host === b.host && a.port === b.port && a.worker_cnt === b.worker_cnt;

/**
 * The table's documented semantics, naively: per host:port the newest active_time serves (a tie goes
 * to the greater path); a server whose serving ring data changes leaves the ring order and rejoins at
 * its end, after the servers that left in the same write.
 */
class Reference {
  readonly entries = new Map<string, ZkNode>();
  /** Ring members by server, in insertion order. */
  order: { key: string; node: ZkNode }[] = [];

  write(path: string, next: ZkNode | undefined): void {
    const prev = this.entries.get(path);
    const keys = [...new Set([prev, next].filter((n) => n !== undefined).map(serverKey))];
    if (next) this.entries.set(path, next);
    else this.entries.delete(path);
    const joins: { key: string; node: ZkNode }[] = [];
    for (const key of keys) {
      const serving = this.serving(key);
      const cur = this.order.find((g) => g.key === key);
      if (cur && serving && sameRingData(cur.node, serving)) continue;
      this.order = this.order.filter((g) => g !== cur);
      if (serving) joins.push({ key, node: serving });
    }
    this.order.push(...joins);
  }

  /** The path serving server `key`: the newest active_time, a tie to the greater path. */
  serving(key: string): ZkNode | undefined {
    let serving: ZkNode | undefined;
    for (const n of this.entries.values()) {
      if (serverKey(n) !== key) continue;
      if (
        !serving ||
        n.active_time > serving.active_time ||
        (n.active_time === serving.active_time && n.path > serving.path)
      )
        serving = n;
    }
    return serving;
  }

  members(type: string): { points: Uint32Array; owner: string }[] {
    return this.order
      .filter((g) => g.node.type === type)
      .flatMap(({ node: n }) =>
        Array.from({ length: n.worker_cnt }, (_, i) => {
          const owner = memberId(n.host, n.port, i + 1);
          return { points: vnodePoints(owner, VNODES), owner };
        }),
      );
  }
}

/** Applies a primary's steps in order, as src/cluster does on a replica. */
function follow(primary: Nodes): Nodes {
  const replica = new Nodes({ vnodeCount: VNODES });
  primary.on('step', (s: NodesStep) => {
    if (s.op === 'set') replica.upsert(s.node);
    else if (s.op === 'del') replica.delZkNode(s.path);
  });
  return replica;
}

test('Nodes: interleaved upserts, deletes and lookups answer like the reference at every lookup', () => {
  const opArb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ set: nodeArb }) },
    { weight: 2, arbitrary: fc.record({ del: fc.constantFrom(...PATHS) }) },
    { weight: 2, arbitrary: fc.record({ lookup: fc.constantFrom(...TYPES) }) },
  );
  // Sizes up to the maxima: at fast-check's default small sizes, 400 runs made ~5 ops each, and in all
  // deleted ~125 present paths, set ~100 nodes that another path shadowed, handed ~130 servers over to
  // another path, rejoined ~150, moved a path to another server ~200 times and broke ~75 ties by path.
  let delPresent = 0;
  let shadowed = 0;
  let handover = 0;
  let rejoined = 0;
  let moved = 0;
  let ties = 0;
  /** ref.write, counting what the write did to the servers it touched. */
  const write = (ref: Reference, path: string, next: ZkNode | undefined) => {
    const prev = ref.entries.get(path);
    if (!next && prev) delPresent++;
    const keys = [...new Set([prev, next].filter((n) => n !== undefined).map(serverKey))];
    if (keys.length === 2) moved++;
    const before = keys.map((k) => ({ serving: ref.serving(k), g: ref.order.find((x) => x.key === k) }));
    ref.write(path, next);
    keys.forEach((k, i) => {
      const serving = ref.serving(k);
      if (before[i].serving && serving && before[i].serving.path !== serving.path) handover++;
      // The server's ring data changed: it left the ring order and rejoined at its end.
      const g = ref.order.find((x) => x.key === k);
      if (before[i].g && g && before[i].g !== g) rejoined++;
      const others = [...ref.entries.values()].filter((n) => n !== serving && serverKey(n) === k);
      if (serving && others.some((n) => n.active_time === serving.active_time)) ties++;
    });
    if (next && ref.serving(serverKey(next)) !== next) shadowed++;
  };
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => {
      const t = new Nodes({ vnodeCount: VNODES });
      const replica = follow(t);
      const ref = new Reference();
      const check = (type: string) => {
        const members = ref.members(type);
        const probes = [0, 0xffffffff, ...members.flatMap((m) => [...m.points].flatMap((p) => [p, p + 1]))];
        for (const h of probes) {
          const want = referenceFind(members, h >>> 0);
          assert.equal(t.getNodeByHash(type, h)?.id, want);
          assert.equal(replica.getNodeByHash(type, h)?.id, want);
        }
        assert.equal(t.pointCount(type), members.length * VNODES);
      };
      for (const op of ops) {
        if ('set' in op) {
          assert.ok(t.upsert(op.set).ok);
          write(ref, op.set.path, op.set);
        } else if ('del' in op) {
          t.delZkNode(op.del);
          write(ref, op.del, undefined);
        } else check(op.lookup);
      }
      for (const type of TYPES) check(type);
    }),
    { numRuns: 400 },
  );
  // The runs must delete, shadow, hand servers over, rejoin, move paths and break ties, many times over.
  assert.ok(
    delPresent >= 800 &&
      shadowed >= 500 &&
      handover >= 800 &&
      rejoined >= 900 &&
      moved >= 1100 &&
      ties >= 400,
    `${delPresent} present paths deleted, ${shadowed} shadowed sets, ${handover} handovers, ${rejoined} ` +
      `rejoins, ${moved} paths moved to another server, ${ties} ties broken by path`,
  );
});

test('Nodes: every write reports exactly the difference of the serving view, paths that serve on as changed', () => {
  const opArb = fc.oneof(
    { weight: 3, arbitrary: fc.record({ set: nodeArb }) },
    { weight: 1, arbitrary: fc.record({ del: fc.constantFrom(...PATHS) }) },
  );
  const byPath = (a: { path: string }, b: { path: string }) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
  // What the report must hold, found by comparing list() before and after; counted so that the runs are seen to
  // reach changes, handovers between paths and moves between servers (300 runs: ~2,300 and ~1,100).
  let changes = 0;
  let removedAndAdded = 0;
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), (ops) => {
      const t = new Nodes({ vnodeCount: VNODES });
      for (const op of ops) {
        const before = new Map(t.list().map((n) => [n.path, n]));
        const change =
          'set' in op ? (t.upsert(op.set) as { ok: true; change: NodesChange }).change : t.remove(op.del);
        const after = new Map(t.list().map((n) => [n.path, n]));
        const want: Omit<NodesChange, 'version'> = { added: [], removed: [], changed: [] };
        for (const [path, old] of before) {
          const now = after.get(path);
          if (now === undefined) want.removed.push(old);
          else if (now !== old) want.changed.push({ old, new: now });
        }
        for (const [path, now] of after) if (!before.has(path)) want.added.push(now);
        assert.deepEqual([...change.added].sort(byPath), want.added.sort(byPath));
        assert.deepEqual([...change.removed].sort(byPath), want.removed.sort(byPath));
        assert.deepEqual(
          [...change.changed].sort((a, b) => byPath(a.old, b.old)),
          want.changed.sort((a, b) => byPath(a.old, b.old)),
        );
        changes += want.changed.length;
        if (want.removed.length > 0 && want.added.length > 0) removedAndAdded++;
      }
    }),
    { numRuns: 300 },
  );
  assert.ok(
    changes >= 1100 && removedAndAdded >= 500,
    `${changes} changes, ${removedAndAdded} handovers or moves`,
  );
});
