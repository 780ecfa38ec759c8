// Table replication without processes: random churn on a primary table, its messages replayed into a
// replica, and the replica compared with the primary for every key, every collision point and the
// snapshot. First the pure message application, then the whole protocol with lost messages and busy
// channels.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import pino from 'pino';
import { applyMessage } from '../../src/cluster/apply.js';
import { TableFeed } from '../../src/cluster/feed.js';
import type { Link } from '../../src/cluster/outbox.js';
import { decodePoints, encodePoints } from '../../src/cluster/points.js';
import type {
  AddMessage,
  ClusterStatus,
  PrimaryMessage,
  SnapshotMessage,
  SyncMessage,
} from '../../src/cluster/protocol.js';
import { isClusterMessage } from '../../src/cluster/protocol.js';
import { Replica } from '../../src/cluster/replica.js';
import { Nodes } from '../../src/nodes/table.js';
import { memberId, vnodePoints } from '../../src/nodes/vnodes.js';
import {
  applyOp,
  type ChurnOp,
  collidingServers,
  memberPoints,
  pathOf,
  TYPES,
} from '../fixtures/cluster-churn.js';

const SERVERS = collidingServers(4);
const POINTS = memberPoints(SERVERS);
const KEYS = Array.from({ length: 2000 }, (_, i) => `user:${i}`);
const PATHS = 10;
const STATUS: ClusterStatus = {
  state: 'CONNECTED',
  self: '/kimserver/nodes/gate/me0000000001',
  healthy: true,
};

const setArb = fc.record({
  op: fc.constant('set' as const),
  path: fc.nat(PATHS - 1),
  server: fc.nat(SERVERS.length - 1),
  type: fc.constantFrom('logic', 'logic', 'logic', 'gate'),
  worker_cnt: fc.integer({ min: 1, max: 4 }),
  active_time: fc.nat(3),
});
const churnArb: fc.Arbitrary<ChurnOp> = fc.oneof(
  { weight: 8, arbitrary: setArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('del' as const), path: fc.nat(PATHS - 1) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('children' as const),
      type: fc.constantFrom(...TYPES),
      keep: fc.array(fc.nat(PATHS - 1)),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

const wire = <T>(msg: T): T => JSON.parse(JSON.stringify(msg));

/** Lookups of both types: every member point (collisions included) and a spread of string keys. */
function answers(t: Nodes): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (const type of TYPES) {
    for (const p of POINTS) out.push(t.getNodeByHash(type, p)?.id);
    for (const k of KEYS) out.push(t.getNodeInHash(type, k)?.id);
  }
  return out;
}

function assertSame(replica: Nodes, primary: Nodes): void {
  assert.deepEqual(replica.snapshot(), primary.snapshot());
  assert.deepEqual(answers(replica), answers(primary));
}

test('the pool has colliding members, so ring insertion order decides some lookups', () => {
  assert.equal(SERVERS.length, 8);
  const node = (i: number) => ({
    path: pathOf(2 * i),
    type: 'logic',
    ...SERVERS[i],
    worker_cnt: 4,
    active_time: 1,
  });
  let orderMatters = false;
  for (let i = 0; i + 1 < SERVERS.length && !orderMatters; i++) {
    for (let j = i + 1; j < SERVERS.length && !orderMatters; j++) {
      const ab = new Nodes();
      ab.addZkNode(node(i));
      ab.addZkNode(node(j));
      const ba = new Nodes();
      ba.addZkNode(node(j));
      ba.addZkNode(node(i));
      orderMatters = POINTS.some(
        (p) => ab.getNodeByHash('logic', p)?.id !== ba.getNodeByHash('logic', p)?.id,
      );
    }
  }
  assert.ok(orderMatters);
});

test('replaying the ADD/DEL/SNAPSHOT messages gives the primary table: lookups, collisions, snapshot', () => {
  // Sizes up to the maxima: at fast-check's default small sizes, 200 runs made ~6 ops each, restored 44
  // times (a restore comes only at an op's index under 60) and replayed ~410 ADDs and ~50 DELs in all.
  let restores = 0;
  const kinds = new Map<string, number>();
  fc.assert(
    fc.property(
      fc.array(churnArb, { minLength: 1, maxLength: 60, size: 'max' }),
      fc.nat(59),
      fc.nat(59),
      (ops, joinAt, restoreAt) => {
        if (restoreAt < ops.length) restores++;
        const primary = new Nodes();
        const feed = new TableFeed(primary, () => STATUS);
        const sent: PrimaryMessage[] = [];
        const link: Link = { send: (msg) => sent.push(wire(msg)) > 0 };
        // The replica joins part-way: a snapshot of a table built by writes, then the deltas.
        joinAt %= ops.length;
        const replica = new Nodes();
        const taken: unknown[] = [];
        ops.forEach((op, i) => {
          if (i === joinAt) feed.receive(link, { zkbio: 1, kind: 'SYNC', version: null });
          applyOp(primary, op, SERVERS);
          taken.push(primary.snapshot());
          // The primary going back to an earlier content (restore) is a reset: replicas get a snapshot.
          if (i === restoreAt) primary.restore(taken[Math.floor(i / 2)]);
          for (const msg of sent.splice(0)) {
            assert.ok(isClusterMessage(msg));
            kinds.set(msg.kind, (kinds.get(msg.kind) ?? 0) + 1);
            assert.equal(applyMessage(replica, msg), 'applied', msg.kind);
          }
          if (i >= joinAt) assert.equal(replica.version, primary.version);
        });
        assertSame(replica, primary);
        feed.close();
      },
    ),
    { numRuns: 200 },
  );
  // The runs must replay many deltas of both kinds, and snapshots of restores besides those of joins.
  const [add, del, snapshot] = ['ADD', 'DEL', 'SNAPSHOT'].map((k) => kinds.get(k) ?? 0);
  assert.ok(
    restores >= 50 && add >= 1200 && del >= 250 && snapshot >= 200 + 50,
    `${restores} restores, ${add} ADDs, ${del} DELs, ${snapshot} SNAPSHOTs replayed`,
  );
});

test('steady state sends one small delta per change, no snapshot', () => {
  const primary = new Nodes();
  const feed = new TableFeed(primary, () => STATUS);
  const sent: PrimaryMessage[] = [];
  feed.receive({ send: (msg) => sent.push(msg) > 0 }, { zkbio: 1, kind: 'SYNC', version: null });
  assert.deepEqual(
    sent.map((m) => m.kind),
    ['SNAPSHOT'],
  );
  for (let i = 0; i < 50; i++)
    applyOp(
      primary,
      { op: 'set', path: i, server: i, type: 'logic', worker_cnt: 2, active_time: 1 },
      SERVERS,
    );
  for (let i = 0; i < 10; i++) applyOp(primary, { op: 'del', path: i }, SERVERS);
  assert.deepEqual(
    sent.slice(1).map((m) => m.kind),
    [...Array(50).fill('ADD'), ...Array(10).fill('DEL')],
  );
  feed.close();
});

test('versions: a delta applies only on its base, stale ones are ignored, a gap is reported', () => {
  const primary = new Nodes();
  const node = { path: pathOf(0), type: 'logic', ...SERVERS[0], worker_cnt: 1, active_time: 1 };
  primary.addZkNode(node);
  const replica = new Nodes();
  const snap: SnapshotMessage = { zkbio: 1, kind: 'SNAPSHOT', snapshot: primary.snapshot(), status: STATUS };
  assert.equal(applyMessage(replica, snap), 'applied');
  const add = (version: number): PrimaryMessage => ({
    zkbio: 1,
    kind: 'ADD',
    version,
    node: [pathOf(1), 'logic', SERVERS[1].host, SERVERS[1].port, 2, 1],
  });
  assert.equal(applyMessage(replica, add(1)), 'stale');
  assert.equal(applyMessage(replica, add(3)), 'gap');
  assert.equal(applyMessage(replica, { zkbio: 1, kind: 'STATUS', version: 2, status: STATUS }), 'gap');
  assert.equal(applyMessage(replica, add(2)), 'applied');
  assert.equal(applyMessage(replica, { zkbio: 1, kind: 'STATUS', version: 2, status: STATUS }), 'applied');
  assert.equal(
    applyMessage(replica, { zkbio: 1, kind: 'DEL', version: 3, path: 42 as unknown as string }),
    'gap',
  );
  assert.equal(
    applyMessage(replica, { ...snap, snapshot: { ...snap.snapshot, nodes: 'x' as never } }),
    'stale',
  );
  assert.equal(replica.version, 2);
  assert.equal(isClusterMessage({ kind: 'ADD' }), false);
  assert.equal(isClusterMessage({ zkbio: 1, kind: 'HELLO' }), false);
  // kimserver defect 5: the replica's version is the primary's, and it survives clear().
  replica.clear();
  assert.equal(replica.version, 3);
});

/**
 * The whole protocol in-process: the primary's feed and a Replica joined by fake channels that the
 * test drives message by message, losing some and reporting "busy" at random.
 */
class Harness {
  readonly primary = new Nodes();
  readonly feed = new TableFeed(this.primary, () => this.status);
  status: ClusterStatus = { state: 'CONNECTING', self: null, healthy: false };
  /** primary → worker, in order; each with the send's completion. */
  readonly down: { msg: PrimaryMessage; done: (err: Error | null) => void }[] = [];
  readonly up: SyncMessage[] = [];
  busy = false;
  /** Messages lost on the way down, and SYNCs the replica sent up (catching up, or asking again). */
  lost = 0;
  syncs = 0;
  readonly link: Link = {
    send: (msg, done) => {
      this.down.push({ msg: wire(msg), done });
      return !this.busy;
    },
  };
  readonly channel = Object.assign(new EventEmitter(), {
    send: (msg: SyncMessage) => {
      this.syncs++;
      return this.up.push(wire(msg));
    },
  });
  replica: Replica | undefined;

  constructor() {
    this.feed.receive(this.link, { zkbio: 1, kind: 'SYNC', version: null });
    const first = this.down.shift()!;
    first.done(null);
    assert.equal(first.msg.kind, 'SNAPSHOT');
    this.replica = new Replica(first.msg as SnapshotMessage, this.channel, { retryMs: 60_000 });
  }

  /** Delivers (or loses) the oldest message each way. */
  step(lose: boolean): void {
    const d = this.down.shift();
    if (d) {
      if (lose) this.lost++;
      else this.channel.emit('message', d.msg);
      d.done(null);
    }
    const u = this.up.shift();
    if (u) this.feed.receive(this.link, u);
  }

  /** Delivers everything, then a heartbeat, until nothing moves. */
  settle(): void {
    this.busy = false;
    for (let round = 0; round < 2; round++) {
      // The second round stands in for the replica's retry timer, in case the answer to its SYNC was lost.
      if (round === 1) {
        if (this.replica!.nodes.version === this.primary.version) return;
        this.replica!.sync();
      }
      this.feed.sendStatus();
      for (let i = 0; i < 10_000 && (this.down.length > 0 || this.up.length > 0); i++) this.step(false);
      assert.equal(this.down.length + this.up.length, 0, 'did not settle');
    }
  }
}

type Action =
  | { a: 'op'; op: ChurnOp }
  | { a: 'deliver'; n: number; lose: boolean }
  | { a: 'busy'; on: boolean }
  | { a: 'status' };

test('lost messages and busy channels: the replica catches up through SYNC and ends equal', () => {
  const actionArb: fc.Arbitrary<Action> = fc.oneof(
    { weight: 6, arbitrary: churnArb.map((op) => ({ a: 'op' as const, op })) },
    {
      weight: 4,
      arbitrary: fc.record({
        a: fc.constant('deliver' as const),
        n: fc.integer({ min: 1, max: 8 }),
        lose: fc.nat(9).map((x) => x < 2),
      }),
    },
    { weight: 1, arbitrary: fc.record({ a: fc.constant('busy' as const), on: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ a: 'status' as const }) },
  );
  // Sizes up to the maxima: at fast-check's default small sizes, 300 runs made ~4.5 actions each, lost
  // 46 messages in all, turned a channel busy 61 times and had the replica send 34 SYNCs.
  let lost = 0;
  let busy = 0;
  let syncs = 0;
  fc.assert(
    fc.property(fc.array(actionArb, { maxLength: 120, size: 'max' }), (actions) => {
      busy += actions.filter((act) => act.a === 'busy' && act.on).length;
      const h = new Harness();
      const statuses: ClusterStatus[] = [];
      h.replica!.on('status', (s) => statuses.push(s));
      for (const act of actions) {
        if (act.a === 'op') applyOp(h.primary, act.op, SERVERS);
        else if (act.a === 'busy') h.busy = act.on;
        else if (act.a === 'status') {
          h.status = {
            state: 'CONNECTED',
            self: `/kimserver/nodes/gate/me${statuses.length}`,
            healthy: true,
          };
          h.feed.sendStatus();
        } else for (let i = 0; i < act.n; i++) h.step(act.lose && i === 0);
      }
      h.settle();
      assertSame(h.replica!.nodes, h.primary);
      assert.deepEqual(h.replica!.status, h.status);
      lost += h.lost;
      syncs += h.syncs;
      h.replica!.close();
      h.feed.close();
    }),
    { numRuns: 300 },
  );
  // The runs must lose messages, hold them on busy channels and catch up by SYNC, many times over.
  assert.ok(
    lost >= 300 && busy >= 300 && syncs >= 200,
    `${lost} messages lost, ${busy} channels turned busy, ${syncs} SYNCs sent`,
  );
});

test('a busy channel holds messages, and a backlog longer than the table becomes one snapshot', () => {
  const h = new Harness();
  applyOp(
    h.primary,
    { op: 'set', path: 0, server: 0, type: 'logic', worker_cnt: 2, active_time: 0 },
    SERVERS,
  );
  h.busy = true;
  applyOp(
    h.primary,
    { op: 'set', path: 1, server: 1, type: 'logic', worker_cnt: 2, active_time: 0 },
    SERVERS,
  );
  assert.equal(h.down.length, 2, 'the send that reported busy is still buffered');
  for (let t = 1; t <= 10; t++)
    applyOp(
      h.primary,
      { op: 'set', path: 1, server: 1, type: 'logic', worker_cnt: 2, active_time: t },
      SERVERS,
    );
  assert.equal(h.feed.backlog, 10);
  for (let t = 11; t <= 200; t++)
    applyOp(
      h.primary,
      { op: 'set', path: 1, server: 1, type: 'logic', worker_cnt: 2, active_time: t },
      SERVERS,
    );
  assert.equal(h.feed.backlog, 1, 'coalesced into one pending snapshot');
  h.busy = false;
  h.step(false);
  h.step(false);
  assert.deepEqual(
    h.down.map((d) => d.msg.kind),
    ['SNAPSHOT'],
  );
  h.settle();
  assertSame(h.replica!.nodes, h.primary);
  h.replica!.close();
  h.feed.close();
});

test('replica events match the primary table changes', () => {
  const h = new Harness();
  const seen: string[] = [];
  h.replica!.on('added', (n) => seen.push(`+${n.path}`));
  h.replica!.on('removed', (n) => seen.push(`-${n.path}`));
  h.replica!.on('changed', (c) => seen.push(`~${c.new.path}`));
  const expected: string[] = [];
  h.primary.on('change', (c) => {
    for (const n of c.removed) expected.push(`-${n.path}`);
    for (const n of c.added) expected.push(`+${n.path}`);
    for (const x of c.changed) expected.push(`~${x.new.path}`);
  });
  applyOp(
    h.primary,
    { op: 'set', path: 0, server: 0, type: 'logic', worker_cnt: 2, active_time: 0 },
    SERVERS,
  );
  applyOp(
    h.primary,
    { op: 'set', path: 2, server: 1, type: 'logic', worker_cnt: 2, active_time: 0 },
    SERVERS,
  );
  applyOp(
    h.primary,
    { op: 'set', path: 0, server: 0, type: 'logic', worker_cnt: 3, active_time: 0 },
    SERVERS,
  );
  // Path 4 takes server 1 over from path 2 (newer active_time); then it goes and path 2 serves again.
  applyOp(
    h.primary,
    { op: 'set', path: 4, server: 1, type: 'logic', worker_cnt: 1, active_time: 2 },
    SERVERS,
  );
  applyOp(h.primary, { op: 'del', path: 4 }, SERVERS);
  h.settle();
  assert.deepEqual(seen, expected);
  h.replica!.close();
  h.feed.close();
});

test("a replica's event listener that throws never aborts its update, a delta's or a snapshot's", () => {
  const primary = new Nodes();
  const feed = new TableFeed(primary, () => ({ state: 'CONNECTED', self: null, healthy: true }));
  const down: PrimaryMessage[] = [];
  const up: SyncMessage[] = [];
  const link: Link = {
    send: (msg, done) => {
      down.push(wire(msg));
      queueMicrotask(() => done(null));
      return true;
    },
  };
  const channel = Object.assign(new EventEmitter(), { send: (msg: SyncMessage) => up.push(wire(msg)) });
  feed.receive(link, { zkbio: 1, kind: 'SYNC', version: null });
  const replica = new Replica(down.shift() as SnapshotMessage, channel, {
    retryMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  const seen: string[] = [];
  for (const event of ['added', 'removed'] as const) {
    replica.on(event, () => {
      throw new Error(`a listener that throws on ${event}`);
    });
    replica.on(event, (n) => seen.push(`${event} ${n.path}`));
  }
  const deliver = () => {
    for (const msg of down.splice(0)) assert.doesNotThrow(() => channel.emit('message', msg));
  };

  const a = {
    path: '/kimserver/nodes/logic/a',
    type: 'logic',
    host: '10.0.0.1',
    port: 4000,
    worker_cnt: 2,
    active_time: 1,
  };
  primary.upsert(a);
  deliver();
  assert.equal(replica.nodes.version, primary.version, 'the delta applied');
  assert.ok(replica.nodes.get(a.path));

  // clear() in the primary makes the next message a snapshot, whose restore reports the removal.
  primary.clear();
  deliver();
  assert.equal(replica.nodes.version, primary.version, 'the snapshot applied');
  assert.equal(replica.nodes.get(a.path), undefined);
  assert.deepEqual(up, [], 'no gap, so no SYNC');
  assert.deepEqual(seen, [`added ${a.path}`, `removed ${a.path}`], 'the other listeners ran');
  assert.equal(replica.listenerErrors, 2);
  replica.close();
  feed.close();
});

test("ADD and SNAPSHOT carry the primary's ring points, and the replica applies them without computing its own", () => {
  const node = {
    path: '/kimserver/nodes/logic/p',
    type: 'logic',
    host: '10.0.0.2',
    port: 4100,
    worker_cnt: 2,
    active_time: 1,
  };
  const primary = new Nodes();
  const feed = new TableFeed(primary, () => ({ state: 'CONNECTED', self: null, healthy: true }));
  const down: PrimaryMessage[] = [];
  feed.receive({ send: (msg) => down.push(wire(msg)) > 0 }, { zkbio: 1, kind: 'SYNC', version: null });
  primary.upsert(node);
  const [, add] = down as [SnapshotMessage, AddMessage];
  assert.equal(add.kind, 'ADD');
  // The table may keep a member's points sorted; the ring is the same set either way.
  const sorted = (pts: readonly Uint32Array[] | undefined) => pts?.map((p) => p.slice().sort());
  const sent = decodePoints(add.points, 2);
  const md5 = [1, 2].map((i) => vnodePoints(memberId(node.host, node.port, i), 200));
  assert.deepEqual(sorted(sent), sorted(md5));

  // Points that differ from what MD5 gives (another member's), but of the right shape: the replica's ring
  // follows them, so it used what it was sent.
  const other = [1, 2].map((i) => vnodePoints(memberId('10.9.9.9', 1, i), 200));
  const forged: AddMessage = { ...add, points: encodePoints(other) };
  const viaAdd = new Nodes();
  assert.equal(applyMessage(viaAdd, { ...wire(down[0]), kind: 'SNAPSHOT' } as SnapshotMessage), 'applied');
  assert.equal(applyMessage(viaAdd, forged), 'applied');
  const hit = other[0][0];
  assert.equal(viaAdd.getNodeByHash('logic', hit)?.workerIndex, 1);
  assert.deepEqual(sorted(viaAdd.memberPoints(node.path)), sorted(other));

  const snap = feed.snapshot();
  assert.deepEqual(decodePoints(snap.points?.[0], 2), sent);
  const viaSnapshot = new Nodes();
  const forgedSnap = wire({ ...snap, points: [encodePoints(other) ?? null] });
  assert.equal(applyMessage(viaSnapshot, forgedSnap), 'applied');
  assert.deepEqual(sorted(viaSnapshot.memberPoints(node.path)), sorted(other));
  // Points of the wrong shape in a snapshot are not used: the replica computes them.
  const badSnap = wire({ ...snap, points: [Buffer.alloc(8).toString('base64')] });
  const computed = new Nodes();
  assert.equal(applyMessage(computed, badSnap), 'applied');
  assert.deepEqual(sorted(computed.memberPoints(node.path)), sorted(sent));
  feed.close();
});

test('a snapshot is shared by workers that join together, and not kept once it has gone out', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const primary = new Nodes();
  for (let i = 0; i < 20; i++)
    primary.upsert({
      path: `/kimserver/nodes/logic/p${i}`,
      type: 'logic',
      host: '10.0.0.2',
      port: 4100 + i,
      worker_cnt: 2,
      active_time: 1,
    });
  const feed = new TableFeed(primary, () => ({ state: 'CONNECTED', self: null, healthy: true }));
  // Each channel writes its message at once and reports it written on the next turn, as IPC does.
  const link = (sent: PrimaryMessage[]): Link => ({
    send: (msg, done) => {
      sent.push(msg);
      setImmediate(() => done(null));
      return true;
    },
  });
  const joinTwo = () => {
    const sent: PrimaryMessage[] = [];
    feed.receive(link(sent), { zkbio: 1, kind: 'SYNC', version: null });
    feed.receive(link(sent), { zkbio: 1, kind: 'SYNC', version: null });
    const [a, b] = sent as [SnapshotMessage, SnapshotMessage];
    assert.equal(a.snapshot, b.snapshot, 'two workers joining together get one snapshot');
    assert.equal(a.points, b.points);
    sent.length = 0; // the links live on in the feed: they must not keep the messages either
    return { snapshot: new WeakRef(a.snapshot), points: new WeakRef(a.points as (string | null)[]) };
  };
  // The snapshot's points are a second copy of the table (11 MB of base64 at 5,000 peers): once the
  // channels are done with the message, the feed must not hold it.
  const { snapshot, points } = joinTwo();
  await new Promise((resolve) => setImmediate(resolve)); // the channels' done, and the end of the job that
  await new Promise((resolve) => setImmediate(resolve)); // made the WeakRefs (which hold their targets till then)
  gc();
  assert.equal(snapshot.deref(), undefined, 'the feed still holds the snapshot it sent');
  assert.equal(points.deref(), undefined, "the feed still holds the snapshot's points");
  feed.close();
});
