// Table sharing with real processes: this test process is the cluster primary, holding a plain
// `Nodes` table it churns itself (no ZooKeeper needed), and forks 3 workers that join it
// (test/fixtures/cluster-worker.ts) and answer snapshots and lookups from their replicas.
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isClusterMessage, shareNodeTable, type TableShare } from '../../src/cluster/index.js';
import type { SessionState } from '../../src/metrics.js';
import type { NodesSnapshot } from '../../src/nodes/snapshot.js';
import { Nodes } from '../../src/nodes/table.js';
import { applyOp, pathOf, prng, randomOps, TYPES } from '../fixtures/cluster-churn.js';

const WAIT_MS = 15_000;
const PATHS = 500;
const SERVERS = Array.from({ length: 400 }, (_, i) => ({
  host: `10.9.${i >> 8}.${i & 255}`,
  port: 5000 + (i % 7),
}));
const KEYS: (string | number)[] = [
  ...Array.from({ length: 2500 }, (_, i) => `user:${i * 7919}`),
  ...Array.from({ length: 500 }, (_, i) => i * 104729),
];

/** The primary's discovery, minus ZooKeeper: a table and a session status. */
class FakeDiscovery extends EventEmitter {
  readonly nodes = new Nodes();
  state: SessionState = 'CONNECTING';
  self: string | null = null;
  get healthy(): boolean {
    return this.state === 'CONNECTED' && this.self !== null;
  }
}

const discovery = new FakeDiscovery();
const rnd = prng(0x5eed);
let share: TableShare;
const workers: Worker[] = [];
/** SYNC requests from replicas that already hold a table (gap recovery), per worker id. */
const resyncs = new Map<number, number>();
let nextId = 1;

function countResyncs(worker: Worker, msg: unknown): void {
  if (isClusterMessage(msg) && msg.kind === 'SYNC' && msg.version !== null)
    resyncs.set(worker.id, (resyncs.get(worker.id) ?? 0) + 1);
}

function churn(count: number): void {
  for (const op of randomOps(rnd, count, PATHS, SERVERS.length)) applyOp(discovery.nodes, op, SERVERS);
}

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function request<T>(worker: Worker, body: Record<string, unknown>): Promise<T> {
  const id = nextId++;
  return within(
    WAIT_MS,
    `worker ${worker.id} ${String(body.test)}`,
    new Promise<T>((resolve) => {
      const onMessage = (msg: { reply?: number }) => {
        if (msg?.reply !== id) return;
        worker.off('message', onMessage);
        resolve(msg as T);
      };
      worker.on('message', onMessage);
      worker.send({ ...body, id });
    }),
  );
}

interface WorkerView {
  snapshot: NodesSnapshot;
  status: { state: string; self: string | null; healthy: boolean };
  dropped: number;
}
const view = (w: Worker) => request<WorkerView>(w, { test: 'snapshot' });

async function fork(): Promise<Worker> {
  const worker = cluster.fork();
  await within(
    WAIT_MS,
    'a forked worker to join the table',
    new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: { ready?: number }) => {
        if (msg?.ready) resolve();
      });
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before joining`)));
    }),
  );
  return worker;
}

/** Waits until every worker's replica is at the primary's version, then returns their views. */
async function converged(ws: Worker[]): Promise<WorkerView[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const views = await Promise.all(ws.map(view));
    if (views.every((v) => v.snapshot.version === discovery.nodes.version)) return views;
    if (Date.now() > deadline) {
      assert.fail(
        `replicas at ${views.map((v) => v.snapshot.version).join(', ')}, primary at ${discovery.nodes.version}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function assertSameLookups(w: Worker): Promise<void> {
  for (const type of TYPES) {
    const { ids } = await request<{ ids: (string | null)[] }>(w, { test: 'lookup', type, keys: KEYS });
    const expected = KEYS.map((k) => discovery.nodes.getNodeInHash(type, k)?.id ?? null);
    assert.equal(ids.length, expected.length);
    const differ = ids.findIndex((id, i) => id !== expected[i]);
    assert.equal(
      differ,
      -1,
      `worker ${w.id}, ${type} key ${KEYS[differ]}: ${ids[differ]} ≠ ${expected[differ]}`,
    );
  }
}

before(async () => {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('../fixtures/cluster-worker.js', import.meta.url)) });
  cluster.on('message', countResyncs);
  churn(400);
  share = shareNodeTable(discovery, { heartbeatMs: 200 });
  workers.push(...(await Promise.all([fork(), fork(), fork()])));
});

after(() => {
  cluster.off('message', countResyncs);
  share?.close();
  for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
});

test('every worker replica equals the primary table after churn, status included', async () => {
  assert.equal(share.workers, 3);
  churn(1500);
  discovery.state = 'CONNECTED';
  discovery.emit('state');
  discovery.self = '/kimserver/nodes/gate/kimserver-gate0000000007';
  discovery.emit('registered');
  churn(300);
  for (const v of await converged(workers)) {
    assert.deepEqual(v.snapshot, discovery.nodes.snapshot());
    assert.deepEqual(v.status, { state: 'CONNECTED', self: discovery.self, healthy: true });
  }
  assert.ok(discovery.nodes.list().length > 100, 'the table is not trivially small');
});

test('every worker answers the same lookups as the primary', async () => {
  churn(200);
  await converged(workers);
  for (const w of workers) await assertSameLookups(w);
});

test('a SIGKILLed worker, forked again, comes back with the current table', async () => {
  const victim = workers[0];
  const exited = new Promise((r) => victim.once('exit', r));
  victim.process.kill('SIGKILL');
  await within(WAIT_MS, 'the killed worker to exit', exited);
  assert.equal(share.workers, 2);
  churn(300);
  workers[0] = await fork();
  assert.equal(share.workers, 3);
  const [v] = await converged([workers[0]]);
  assert.deepEqual(v.snapshot, discovery.nodes.snapshot());
  await assertSameLookups(workers[0]);
});

test('a replica that missed a message catches up through SYNC', async () => {
  const w = workers[1];
  await converged([w]);
  const before = resyncs.get(w.id) ?? 0;
  // Lost in the middle: the next delta shows the gap.
  await request(w, { test: 'drop', count: 1 });
  churn(50);
  const [v] = await converged([w]);
  assert.equal(v.dropped, 1);
  assert.ok((resyncs.get(w.id) ?? 0) > before, 'the replica sent a SYNC');
  assert.deepEqual(v.snapshot, discovery.nodes.snapshot());
  // Lost at the end, with nothing after it: the STATUS heartbeat shows the gap.
  const middle = resyncs.get(w.id) ?? 0;
  await request(w, { test: 'drop', count: 1 });
  assert.ok(
    discovery.nodes.addZkNode({
      path: pathOf(0),
      type: 'logic',
      ...SERVERS[0],
      worker_cnt: 3,
      active_time: 1e6,
    }),
  );
  const [v2] = await converged([w]);
  assert.equal(v2.dropped, 2);
  assert.ok((resyncs.get(w.id) ?? 0) > middle, 'the replica sent a SYNC');
  assert.deepEqual(v2.snapshot, discovery.nodes.snapshot());
  await assertSameLookups(w);
});

test('a stalled worker (busy IPC channel) loses nothing', async () => {
  const w = workers[2];
  w.process.kill('SIGSTOP');
  try {
    // active_time-only updates: one ADD each, no ring work, until the channel reports busy.
    const node = { path: pathOf(1), type: 'gate', ...SERVERS[1], worker_cnt: 2, active_time: 0 };
    for (let t = 1; t <= 200_000 && share.backlog === 0; t++)
      discovery.nodes.addZkNode({ ...node, active_time: t });
    assert.ok(share.backlog > 0, 'the channel never reported busy');
    churn(2000);
  } finally {
    w.process.kill('SIGCONT');
  }
  for (const v of await converged(workers)) assert.deepEqual(v.snapshot, discovery.nodes.snapshot());
  assert.equal(share.backlog, 0);
  await assertSameLookups(w);
});
