// Network faults between a ZkClient and a real ZooKeeper, through the loopback fault proxy: silent partitions
// shorter and longer than the session timeout, a reset storm, and latency above the read timeout. Peers talk to
// ZooKeeper directly (not through the proxy) and change the cluster meanwhile; they also read ZooKeeper's truth.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateMode } from 'node-zookeeper-client';
import type { ZkClient } from '../../src/discovery/zk_client.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { FaultProxy } from '../support/proxy.js';
import { Clients, captureLog, gateConfig } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const SESSION_TIMEOUT_MS = 4000;
const READ_TIMEOUT_MS = (2 * SESSION_TIMEOUT_MS) / 3;
/** Timers and the bio thread's hop: how late after its bound a state may be seen on a busy 2-core machine. */
const SLACK_MS = 400;
const LOGIC = '/kimserver/nodes/logic';
const GATE = '/kimserver/nodes/gate';

let zk: ZkHandle;
let peer: PeerClient;
const clients = new Clients();
const proxies: FaultProxy[] = [];

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
  await peer.mkdirp(LOGIC);
});

after(async () => {
  await clients.stopAll();
  await Promise.all(proxies.map((p) => p.close()));
  peer?.close();
  await zk?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ZooKeeper's truth: logic peers as path → port. */
async function truth(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await peer.children(LOGIC)) {
    const path = `${LOGIC}/${name}`;
    const { data } = await peer.get(path);
    out.set(path, Number(JSON.parse(data).port));
  }
  return out;
}

async function tableIsTruth(client: ZkClient): Promise<boolean> {
  const expected = await truth();
  const got = client.nodes.list('logic');
  return got.length === expected.size && got.every((n) => expected.get(n.path) === n.port);
}

/** The client's registrations in ZooKeeper right now. */
async function registrations(prefix: string): Promise<string[]> {
  return (await peer.children(GATE)).filter((n) => n.startsWith(prefix));
}

async function ownerOf(path: string): Promise<string> {
  return (await peer.get(path)).stat.ephemeralOwner.toString('hex');
}

let round = 0;

/** A client through a fresh proxy, with two logic peers in its table; its states are recorded with times. */
async function start() {
  round++;
  const name = `part${round}`;
  const proxy = await FaultProxy.start(zk.connectString);
  proxies.push(proxy);
  const peers: string[] = [];
  for (let i = 0; i < 2; i++) {
    const path = await peer.create(`${LOGIC}/${name}-logic`, '', CreateMode.EPHEMERAL_SEQUENTIAL);
    await peer.set(path, peerJson(path, 'logic', 7000 + round * 10 + i));
    peers.push(path);
  }
  const client = await clients.start(
    gateConfig(proxy.address, { server_name: name }, { session_timeout: SESSION_TIMEOUT_MS }),
  );
  const self = client.self as string;
  const session = await ownerOf(self);
  const states: { state: string; at: number }[] = [];
  client.on('state', (state) => states.push({ state, at: Date.now() }));
  await eventually('peers in the table', () => tableIsTruth(client));
  return { name, proxy, client, self, session, states, peers, prefix: `${name}-gate` };
}

/** Every kind of change a peer can make, made directly on ZooKeeper: one leaves, one changes, one joins. */
async function changeCluster(peers: string[], port: number): Promise<void> {
  await peer.remove(peers[0]);
  await peer.set(peers[1], peerJson(peers[1], 'logic', port));
  const joined = await peer.create(`${LOGIC}/late-logic`, '', CreateMode.EPHEMERAL_SEQUENTIAL);
  await peer.set(joined, peerJson(joined, 'logic', port + 1));
}

/** When the first state `state` was reported, in ms after t0 (fails if never). */
function firstAt(states: { state: string; at: number }[], state: string, t0: number): number {
  const s = states.find((x) => x.state === state);
  assert.ok(s, `state ${state} reported; states: ${states.map((x) => x.state).join(',')}`);
  return s.at - t0;
}

test('silent partition shorter than the session timeout: same session, same registration, every change seen after healing', async (t) => {
  const { proxy, client, self, session, states, peers, prefix } = await start();
  const t0 = Date.now();
  proxy.setMode('blackhole');
  await changeCluster(peers, 7500);
  await eventually('suspended', () => client.state === 'SUSPENDED', SESSION_TIMEOUT_MS);
  assert.equal(client.healthy, false, '/healthz is 503 while suspended');
  await sleep(0.8 * SESSION_TIMEOUT_MS - (Date.now() - t0));
  proxy.setMode('pass');
  const healed = Date.now();
  await eventually('healthy again', () => client.healthy, SESSION_TIMEOUT_MS);
  await eventually('table equals ZooKeeper', () => tableIsTruth(client), 3000);
  t.diagnostic(`in step with ZooKeeper ${Date.now() - healed} ms after healing`);
  assert.ok(firstAt(states, 'SUSPENDED', t0) <= READ_TIMEOUT_MS + SLACK_MS);
  assert.equal(client.self, self, 'same registration');
  assert.equal(await ownerOf(self), session, 'same session');
  assert.deepEqual(await registrations(prefix), [self.split('/').pop()]);
  assert.ok(
    !states.some((s) => s.state === 'LOST' || s.state === 'EXPIRED'),
    `states ${JSON.stringify(states)}`,
  );
  await client.stop();
});

test('silent partition longer than the session timeout: SUSPENDED within 2/3 of it, the table keeps serving, one registration and the truth after healing', async (t) => {
  const { proxy, client, self, states, peers, prefix } = await start();
  const before = client.nodes.list('logic').map((n) => n.path);
  const t0 = Date.now();
  proxy.setMode('blackhole');
  await eventually('suspended', () => client.state === 'SUSPENDED', SESSION_TIMEOUT_MS);
  const suspended = Date.now() - t0;
  await changeCluster(peers, 7600);
  await eventually('lost', () => client.state === 'LOST', SESSION_TIMEOUT_MS);
  assert.equal(client.healthy, false);
  assert.equal(client.self, null, 'a lost session claims no registration');
  assert.deepEqual(
    client.nodes.list('logic').map((n) => n.path),
    before,
    'the last table keeps serving',
  );
  // ZooKeeper expires the session meanwhile and drops the registration.
  await eventually(
    'registration expired',
    async () => (await peer.exists(self)) === null,
    2 * SESSION_TIMEOUT_MS,
  );
  proxy.setMode('pass');
  const healed = Date.now();
  await eventually('healthy again', () => client.healthy, 2 * SESSION_TIMEOUT_MS);
  await eventually('table equals ZooKeeper', () => tableIsTruth(client), 3000);
  t.diagnostic(
    `SUSPENDED after ${suspended} ms; healthy and in step ${Date.now() - healed} ms after healing`,
  );
  assert.ok(suspended <= READ_TIMEOUT_MS + SLACK_MS, `SUSPENDED after ${suspended} ms`);
  const lost = firstAt(states, 'LOST', t0);
  assert.ok(lost <= SESSION_TIMEOUT_MS + SLACK_MS, `LOST after ${lost} ms`);
  assert.ok(states.some((s) => s.state === 'EXPIRED'));
  const now = await registrations(prefix);
  assert.equal(now.length, 1, `exactly one registration: ${now}`);
  assert.equal(client.self, `${GATE}/${now[0]}`);
  await client.stop();
});

test('the client hears nothing for longer than the session timeout while ZooKeeper still hears it: LOST, then the live session resumes', async (t) => {
  const { proxy, client, self, session, states, peers, prefix } = await start();
  const t0 = Date.now();
  proxy.setMode('silent'); // our pings and reconnects reach ZooKeeper and keep the session alive
  await changeCluster(peers, 7650);
  await eventually('lost', () => client.state === 'LOST', 2 * SESSION_TIMEOUT_MS);
  const lost = Date.now() - t0;
  assert.equal(client.healthy, false);
  assert.equal(client.self, null, 'a lost session claims no registration');
  await sleep(1000);
  assert.ok(await peer.exists(self), 'ZooKeeper kept the session and its node');
  proxy.setMode('pass');
  const healed = Date.now();
  await eventually('healthy again', () => client.healthy, SESSION_TIMEOUT_MS);
  await eventually('table equals ZooKeeper', () => tableIsTruth(client), 3000);
  t.diagnostic(`LOST after ${lost} ms; resumed and in step ${Date.now() - healed} ms after healing`);
  assert.ok(lost <= SESSION_TIMEOUT_MS + SLACK_MS, `LOST after ${lost} ms`);
  assert.equal(client.self, self, 'the same registration, claimed again');
  assert.equal(await ownerOf(self), session, 'the same session');
  assert.deepEqual(await registrations(prefix), [self.split('/').pop()]);
  assert.ok(!states.some((s) => s.state === 'EXPIRED'), `states ${states.map((s) => s.state)}`);
  await client.stop();
});

test('reset storm (every 300 ms for 10 s): never two registrations at once, healthy at the end', async (t) => {
  const { proxy, client, peers, prefix } = await start();
  let most = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      most = Math.max(most, (await registrations(prefix)).length);
      await sleep(20);
    }
  })();
  const storm = setInterval(() => proxy.resetAll(), 300);
  await sleep(3000);
  await changeCluster(peers, 7700);
  await sleep(7000);
  clearInterval(storm);
  const ended = Date.now();
  await eventually('healthy at the end', () => client.healthy, 2 * SESSION_TIMEOUT_MS);
  await eventually('table equals ZooKeeper', () => tableIsTruth(client), 3000);
  polling = false;
  await poll;
  t.diagnostic(`${proxy.accepted} connections; healthy ${Date.now() - ended} ms after the storm`);
  assert.ok(proxy.accepted >= 10, `the storm cut the link: ${proxy.accepted} connections`);
  assert.equal(most, 1, 'never two registrations at once');
  assert.equal((await registrations(prefix)).length, 1);
  await client.stop();
});

test('latency above the read timeout: SUSPENDED within 2/3 of the session timeout, one registration and the truth once it is gone', async (t) => {
  const { proxy, client, states, peers, prefix } = await start();
  const t0 = Date.now();
  proxy.latencyMs = READ_TIMEOUT_MS + 500;
  await changeCluster(peers, 7800);
  await eventually('suspended', () => client.state === 'SUSPENDED', SESSION_TIMEOUT_MS);
  const suspended = Date.now() - t0;
  await sleep(1.5 * SESSION_TIMEOUT_MS - (Date.now() - t0));
  proxy.latencyMs = 0;
  const healed = Date.now();
  await eventually('healthy again', () => client.healthy, 3 * SESSION_TIMEOUT_MS);
  await eventually('table equals ZooKeeper', () => tableIsTruth(client), 3000);
  t.diagnostic(
    `SUSPENDED after ${suspended} ms; healthy and in step ${Date.now() - healed} ms after; states ${states.map((s) => s.state).join(',')}`,
  );
  assert.ok(suspended <= READ_TIMEOUT_MS + SLACK_MS, `SUSPENDED after ${suspended} ms`);
  const now = await registrations(prefix);
  assert.equal(now.length, 1, `exactly one registration: ${now}`);
  assert.equal(client.self, `${GATE}/${now[0]}`);
  await client.stop();
});

test('ZooKeeper appearing late: registered within 1 s of it starting to serve', async (t) => {
  const late = await startZk({ local: true });
  try {
    await late.server(1).stop();
    const log = captureLog('debug');
    const client = await clients.start(
      gateConfig(late.connectString, { server_name: 'late' }, { session_timeout: SESSION_TIMEOUT_MS }),
      { ready: false, logger: log.logger },
    );
    await sleep(5000); // long enough for an uncapped exponential backoff to wait seconds
    assert.equal(client.healthy, false);
    await late.server(1).start();
    const serving = Date.now();
    await eventually('registered', () => client.self !== null, 10_000);
    const waited = Date.now() - serving;
    t.diagnostic(`registered ${waited} ms after ZooKeeper served`);
    // What the client did from a second before ZooKeeper served, so a slow start explains itself.
    const since = log
      .lines()
      .filter(({ time }) => Number(time) >= serving - 1000)
      .map(
        ({ time, msg, level, pid, hostname, ...rest }) =>
          `${Number(time) - serving} ms: ${msg} ${JSON.stringify(rest)}`,
      );
    assert.ok(
      waited <= 1000,
      `registered ${waited} ms after ZooKeeper served; the client's log:\n${since.join('\n')}`,
    );
    await client.stop();
  } finally {
    await late.stop();
  }
});
