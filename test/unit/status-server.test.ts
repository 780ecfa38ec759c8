// The status server's page and JSON endpoints over real HTTP on loopback: key-space shares as the ring's
// lookups give them, the shapes the page relies on, bad input, and every endpoint with a 1,000-node table.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { STATUS_PATHS } from '../../bench/support/status-endpoints.js';
import type { LiveStatus } from '../../src/cli/status_live.js';
import { createStatusServer } from '../../src/cli/status_server.js';
import { Nodes } from '../../src/nodes/table.js';
import { memberId, vnodePoints } from '../../src/nodes/vnodes.js';
import { httpGet } from '../support/cli-node.js';
import { node } from './nodes-sample.js';

const LIVE: LiveStatus = {
  types: ['logic'],
  changed_at: 1_700_000_000_000,
  bad: [{ path: '/kimserver/nodes/logic/x', type: 'logic', reason: 'not_json', detail: 'nope', since: 1 }],
  bad_total: 1,
  drain: { le: [0.001, 0.01], counts: [5, 2, 1], count: 8, sum_s: 0.02 },
  queues: { task: { used: 0, capacity: 1024 }, ack: { used: 3, capacity: 4096 }, full_total: 0 },
};

async function serve(nodes: Nodes) {
  const server = createStatusServer({
    nodes,
    status: () => ({ state: 'CONNECTED', self: node(0).path, healthy: true }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    live: async () => LIVE,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, get: (path: string) => httpGet(port, path, 10_000) };
}

interface RingReply {
  version: number;
  served_by: number;
  types: Record<string, { points: number; members: { id: string; keys: number; share: number }[] }>;
}

const big = new Nodes();
let bigServer: Awaited<ReturnType<typeof serve>>;

before(async () => {
  for (let i = 0; i < 1000; i++) assert.ok(big.addZkNode(node(i)), big.lastRefusal);
  bigServer = await serve(big);
});
after(() => bigServer.server.close());

test("each member's keys are exactly the hashes its lookups answer, summing to 2^32", () => {
  const t = new Nodes();
  for (let i = 0; i < 6; i++) assert.ok(t.addZkNode(node(i, { worker_cnt: 1 + (i % 3) })));
  assert.ok(t.getNodeInHash('logic', 'merge the queued inserts'));
  t.delZkNode(node(2).path); // removed members leave dead entries in the merged ring until the next merge
  const shares = t.keyShares('logic');
  assert.equal(shares.length, 1 + 2 + 1 + 2 + 3);
  assert.equal(
    shares.reduce((a, s) => a + s.keys, 0),
    2 ** 32,
  );
  // Walk the key space point by point with lookups: hash h goes to the member of the first point >= h.
  const points = [
    ...new Set(
      shares.flatMap(({ member: m }) => [
        ...vnodePoints(memberId(m.host, m.port, m.workerIndex), t.vnodeCount),
      ]),
    ),
  ].sort((a, b) => a - b);
  const counted = new Map<string, number>();
  for (let i = 0; i < points.length; i++) {
    const from = i === 0 ? points[points.length - 1] - 2 ** 32 : points[i - 1];
    const id = t.getNodeByHash('logic', points[i])?.id as string;
    assert.equal(t.getNodeByHash('logic', (from + 1) >>> 0)?.id, id, `the whole arc up to ${points[i]}`);
    counted.set(id, (counted.get(id) ?? 0) + points[i] - from);
  }
  for (const s of shares) assert.equal(s.keys, counted.get(s.member.id) ?? 0, s.member.id);
  assert.deepEqual(t.keyShares('nope'), []);
});

test('of colliding points the first inserted member gets the arc, the other none', () => {
  // vnodeCount 4: one MD5 group per member, so points can be given by hand (precomputed points).
  const t = new Nodes({ vnodeCount: 4 });
  const a = node(1, { worker_cnt: 1 });
  assert.ok(t.addZkNode(a, [Uint32Array.of(10, 20, 30, 40)]));
  assert.ok(t.addZkNode(node(2, { worker_cnt: 1 }), [Uint32Array.of(10, 20, 30, 40)]));
  assert.ok(t.addZkNode(node(3, { worker_cnt: 1 }), [Uint32Array.of(25, 1000, 2 ** 31, 2 ** 32 - 1)]));
  const keys = (tb: Nodes) => tb.keyShares('logic').map((s) => s.keys);
  // a: (2^32-1, 10] wrapping = 11, (10, 20], (25, 30], (30, 40]; the third: (20, 25] and the rest.
  assert.deepEqual(keys(t), [11 + 10 + 5 + 10, 0, 5 + (2 ** 32 - 1 - 40)]);
  assert.ok(t.delZkNode(a.path));
  assert.deepEqual(keys(t), [11 + 10 + 5 + 10, 5 + (2 ** 32 - 1 - 40)], 'the other serves again');
});

test('GET / is the whole page: inline script and style, no outside resource', async () => {
  const r = await bigServer.get('/');
  assert.equal(r.status, 200);
  assert.match(r.body, /^<!doctype html>/);
  assert.match(r.body, /<style>[\s\S]+<\/style>/);
  assert.match(r.body, /<script>[\s\S]+<\/script>/);
  // The one URL in it is SVG's namespace name, which nothing fetches.
  const urls = r.body.match(/https?:\/\/[^'"\s]*/g) ?? [];
  assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
  assert.doesNotMatch(r.body, /\bsrc=|<link|@import|url\(/);
});

test('/ring gives every member with its share; ?type narrows it, an unknown type is a 404', async () => {
  const all = (await bigServer.get('/ring')).json<RingReply>();
  assert.equal(all.version, big.version);
  assert.equal(all.served_by, process.pid);
  assert.deepEqual(Object.keys(all.types), ['logic']);
  const logic = all.types.logic;
  assert.equal(logic.points, 1000 * 4 * 200);
  assert.equal(logic.members.length, 4000);
  assert.equal(
    logic.members.reduce((a, m) => a + m.keys, 0),
    2 ** 32,
  );
  assert.ok(Math.abs(logic.members.reduce((a, m) => a + m.share, 0) - 1) < 1e-9);
  const one = (await bigServer.get('/ring?type=logic')).json<RingReply>();
  assert.deepEqual(one.types, all.types);
  const missing = await bigServer.get('/ring?type=cache');
  assert.equal(missing.status, 404);
  assert.match(missing.json<{ error: string }>().error, /no node of type "cache"/);
});

test('/live adds the process and the table to what only the primary knows; /nodes keeps its shape', async () => {
  const live = (await bigServer.get('/live')).json<Record<string, unknown>>();
  assert.equal(live.served_by, process.pid);
  assert.equal(live.role, 'primary');
  assert.equal(live.version, big.version);
  assert.equal(live.state, 'CONNECTED');
  assert.equal(typeof live.now, 'number');
  assert.deepEqual(live.bad, LIVE.bad);
  assert.deepEqual(live.drain, LIVE.drain);
  const nodes = (await bigServer.get('/nodes')).json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(nodes), ['version', 'state', 'self', 'nodes']);
});

// How long they take is measured by `npm run bench -- nodes` (status_endpoint_ms), not timed here.
test('with 1,000 nodes (4,000 members, 800,000 points) every endpoint the page uses answers 200 with a body', async () => {
  for (const path of STATUS_PATHS) {
    const r = await bigServer.get(path);
    assert.equal(r.status, 200, path);
    assert.ok(r.body.length > 0, path);
  }
});
