// Ensemble faults against a real 3-server ZooKeeper on loopback: ZooKeeper down when the node starts, each
// server killed and restarted in turn (the leader first), and the quorum lost and regained. An independent
// client plays the peers and reads ZooKeeper's truth.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateMode } from 'node-zookeeper-client';
import type { ZkClient } from '../../src/discovery/zk_client.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { Clients, captureLog, gateConfig } from '../support/zk-client.js';
import { fourLetterWord, startZk, type ZkHandle } from '../support/zk-server.js';

const LOGIC = '/kimserver/nodes/logic';
// The most a server with tickTime 500 grants (20 ticks): a quorum restart must fit inside it.
const SESSION_TIMEOUT_MS = 10_000;
// ZkSession's connect backoff never waits longer than this between attempts.
const BACKOFF_MAX_MS = 500;

let zk: ZkHandle;
const clients = new Clients();
const peers: PeerClient[] = [];

before(async () => {
  zk = await startZk({ servers: 3, local: true });
});

after(async () => {
  await clients.stopAll();
  for (const p of peers) p.close();
  await zk?.stop();
});

const config = () => gateConfig(zk.connectString, {}, { session_timeout: SESSION_TIMEOUT_MS });

async function peer(): Promise<PeerClient> {
  const p = await connectPeer(zk.connectString, { sessionTimeout: SESSION_TIMEOUT_MS });
  peers.push(p);
  return p;
}

/**
 * Runs a peer's call, retrying while its connection fails over (bounded). Creates and removes are
 * idempotent here: a retry that finds the node already there (or gone) means the lost try went through.
 */
async function retry(fn: () => Promise<unknown>, ok: number[] = []): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let attempt = 0; ; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      const code = (err as { code?: number }).code ?? 0;
      if (attempt > 0 && ok.includes(code)) return;
      // -4 CONNECTION_LOSS, -7 OPERATION_TIMEOUT, -112 SESSION_EXPIRED never here (timeouts are long).
      if (![-4, -7].includes(code) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
const NODE_EXISTS = -110;
const NO_NODE = -101;

/** The logic peers in the client's table, as path → port. */
function logicTable(client: ZkClient): Map<string, number> {
  return new Map(client.nodes.list('logic').map((n) => [n.path, n.port]));
}

function sameTable(client: ZkClient, expected: Map<string, number>): boolean {
  const got = logicTable(client);
  return got.size === expected.size && [...expected].every(([p, port]) => got.get(p) === port);
}

/** The id of the server that holds the session's connection (from `cons`), for the report. */
async function serverOf(sessionHex: string): Promise<number | undefined> {
  const sid = `sid=0x${BigInt(`0x${sessionHex}`).toString(16)}`;
  for (const s of zk.servers) {
    const cons = await fourLetterWord(s.clientPort, 'cons').catch(() => '');
    if (cons.includes(sid)) return s.id;
  }
  return undefined;
}

async function ownerOf(p: PeerClient, path: string): Promise<string> {
  return (await p.get(path)).stat.ephemeralOwner.toString('hex');
}

test('ZooKeeper down at start: the node stays up and unhealthy, retries with backoff, registers once a quorum serves', async (t) => {
  await Promise.all(zk.servers.map((s) => s.stop()));
  const log = captureLog('warn');
  const client = await clients.start(config(), { logger: log.logger, ready: false });
  // Long enough for several attempts, whose backoff doubles each time (jittered to 50-100%).
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(client.state, 'CONNECTING');
  assert.equal(client.healthy, false);
  assert.equal(client.self, null);
  const retries = log
    .lines()
    .filter((l) => l.msg === 'ZooKeeper not reachable yet; retrying with backoff')
    .map((l) => /attempt (\d+) failed .*; retry in (\d+) ms/.exec(String(l.detail)));
  assert.ok(retries.length >= 4, `${retries.length} retries reported in 3 s`);
  const delays = retries.map((m) => Number(m?.[2]));
  assert.deepEqual(
    retries.map((m) => Number(m?.[1])),
    retries.map((_, i) => i + 1),
    'every attempt is reported, in order',
  );
  // Attempt n waits 50-100% of min(500, 100·2^(n-1)) ms: it grows (two attempts later the wait is longer)
  // until the cap, and never waits longer than that.
  assert.ok(delays[2] > delays[0], `backoff ${delays}`);
  for (const d of delays) assert.ok(d <= BACKOFF_MAX_MS, `backoff ${delays}`);
  t.diagnostic(`retry delays while ZooKeeper was down: ${delays.join(', ')} ms`);

  // Two of three servers make a quorum: the node registers as soon as they serve.
  await Promise.all([zk.server(1).start(), zk.server(2).start()]);
  const serving = Date.now();
  await client.ready(BACKOFF_MAX_MS + 10_000);
  const waited = Date.now() - serving;
  t.diagnostic(`registered ${waited} ms after the quorum served`);
  assert.ok(waited < BACKOFF_MAX_MS + 5000, `registered ${waited} ms after the quorum served`);
  const self = client.self;
  assert.ok(client.healthy && self);
  const p = await peer();
  assert.ok(await p.exists(self), 'the registration is in ZooKeeper');
  await zk.server(3).start();
  await client.stop();
});

/** `count` persistent logic peers, then a client that has them all; with the client's own session and states. */
async function startWithPeers(prefix: string, count: number, basePort: number) {
  const p = await peer();
  await p.mkdirp(LOGIC);
  const expected = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const path = `${LOGIC}/${prefix}${i}-logic`;
    await p.create(path, peerJson(path, 'logic', basePort + i), CreateMode.PERSISTENT);
    expected.set(path, basePort + i);
  }
  const client = await clients.start(config());
  const self = client.self as string;
  const session = await ownerOf(p, self);
  const states: string[] = [];
  client.on('state', (s) => states.push(s));
  await eventually('initial peers in the table', () => sameTable(client, expected));
  return { p, expected, client, self, session, states };
}

test('each server killed and restarted in turn, the leader first: same session, table intact, later changes seen', async (t) => {
  const { p, expected, client, self, session, states } = await startWithPeers('base', 3, 7000);

  const leader = await zk.leaderId();
  assert.ok(leader !== undefined);
  let port = 7100;
  for (const id of [leader, ...[1, 2, 3].filter((i) => i !== leader)]) {
    const on = await serverOf(session);
    const suspendsBefore = states.filter((s) => s === 'SUSPENDED').length;
    await zk.server(id).kill('SIGKILL');
    assert.ok(sameTable(client, expected), 'the table keeps serving through the kill');
    await zk.waitServing(20_000); // the other two (re-)elect a leader

    // Changes made after the failover: one peer joins, one changes, one leaves.
    const joined = `${LOGIC}/after${id}-logic`;
    await retry(
      () => p.create(joined, peerJson(joined, 'logic', port), CreateMode.PERSISTENT),
      [NODE_EXISTS],
    );
    expected.set(joined, port++);
    const changed = [...expected.keys()][0];
    await retry(() => p.set(changed, peerJson(changed, 'logic', port)));
    expected.set(changed, port++);
    const left = [...expected.keys()][1];
    await retry(() => p.remove(left), [NO_NODE]);
    expected.delete(left);

    await eventually(`changes after killing server ${id} seen`, () => sameTable(client, expected), 20_000);
    await eventually('connected again', () => client.healthy, 20_000);
    assert.equal(client.self, self, 'same registration');
    assert.ok(client.nodes.get(self), 'own node still in the table');
    const suspended = states.filter((s) => s === 'SUSPENDED').length > suspendsBefore;
    t.diagnostic(
      `killed server ${id}${id === leader ? ' (leader)' : ''}; session was on ${on}; suspended: ${suspended}`,
    );
    await zk.server(id).start();
  }
  assert.ok(!states.includes('EXPIRED'), `states: ${states.join(' → ')}`);
  // The client sat on one of the three servers, so one of the kills cut its connection.
  assert.ok(states.includes('SUSPENDED'), `states: ${states.join(' → ')}`);
  assert.equal(await ownerOf(p, self), session, 'the registration is still owned by the first session');
  assert.deepEqual((await p.children('/kimserver/nodes/gate')).length, 1, 'exactly one registration');
  for (const path of expected.keys()) await p.remove(path);
  await client.stop();
});

test('quorum lost (2 of 3 killed): the last table keeps serving, SUSPENDED and unhealthy; regained in time: same session, reconciled', async (t) => {
  const { expected, client, self, session, states } = await startWithPeers('q', 4, 8000);
  const before = client.nodes.getNodeInHash('logic', 'user-42');
  assert.ok(before);

  const leader = (await zk.leaderId()) as number;
  const killed = [leader, leader === 1 ? 2 : 1];
  const lostAt = Date.now();
  await Promise.all(killed.map((id) => zk.server(id).kill('SIGKILL')));
  // The survivor stops serving without a quorum and drops its clients.
  await eventually('SUSPENDED', () => client.state === 'SUSPENDED', 5000);
  assert.equal(client.healthy, false);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(client.state, 'SUSPENDED', 'stays suspended while there is no quorum');
  assert.ok(sameTable(client, expected), 'the last known table keeps serving');
  assert.deepEqual(client.nodes.getNodeInHash('logic', 'user-42'), before, 'lookups still answer the same');

  await Promise.all(killed.map((id) => zk.server(id).start()));
  const regainedMs = Date.now() - lostAt;
  t.diagnostic(`quorum back after ${regainedMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`);
  // Changes as soon as the quorum is back, racing the client's reconnect; a fresh peer, whose session is new.
  const late = await peer();
  const [gone, changed] = [...expected.keys()];
  await late.remove(gone);
  expected.delete(gone);
  await late.set(changed, peerJson(changed, 'logic', 8100));
  expected.set(changed, 8100);
  const fresh = `${LOGIC}/q-new-logic`;
  await late.create(fresh, peerJson(fresh, 'logic', 8101), CreateMode.PERSISTENT);
  expected.set(fresh, 8101);

  await eventually('CONNECTED again', () => client.healthy, SESSION_TIMEOUT_MS);
  await eventually('table reconciled with the changes', () => sameTable(client, expected), 10_000);
  assert.equal(client.self, self, 'same registration');
  assert.equal(await ownerOf(late, self), session, 'same session');
  assert.ok(!states.includes('EXPIRED'), `states: ${states.join(' → ')}`);
  t.diagnostic(`states: ${states.join(' → ')}`);
  for (const path of expected.keys()) await late.remove(path);
  await client.stop();
});
