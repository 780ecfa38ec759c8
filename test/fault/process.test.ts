// Process faults against a real ZooKeeper: the bio thread killed in the middle of tasks (the Bio alone with
// the ZooKeeper handler, then under a ZkClient), a full task ring and a full ack ring.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { CreateMode } from 'node-zookeeper-client';
import pino from 'pino';
import { Bio } from '../../src/bio/bio.js';
import { BioError } from '../../src/bio/protocol.js';
import type { ZkClient } from '../../src/discovery/zk_client.js';
import { QueueFullError } from '../../src/errors.js';
import type { BioRecord } from '../../src/ring/codec.js';
import { Cmd } from '../../src/zk/commands.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { Clients, gateConfig, handlerOptions } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const HANDLER = new URL('../../src/zk/handler.js', import.meta.url);
const SESSION_TIMEOUT_MS = 4000;
const LOGIC = '/kimserver/nodes/logic';
const GATE = '/kimserver/nodes/gate';

let zk: ZkHandle;
let peer: PeerClient;
const clients = new Clients();

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
  await peer.mkdirp(LOGIC);
});

after(async () => {
  await clients.stopAll();
  peer?.close();
  await zk?.stop();
});

/** The client's Bio: the crash is injected into its thread from outside, as a fatal error would kill it. */
const bioOf = (client: ZkClient) => (client as unknown as { bio: Bio }).bio;

/** Creates `n` persistent logic peers named `${prefix}${i}-logic`, all requests in flight at once. */
async function createPeers(prefix: string, n: number, port = 9000): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const path = `${LOGIC}/${prefix}${i}-logic`;
      expected.set(path, port + i);
      return peer.create(path, peerJson(path, 'logic', port + i), CreateMode.PERSISTENT);
    }),
  );
  return expected;
}

function sameTable(client: ZkClient, expected: Map<string, number>): boolean {
  const got = new Map(client.nodes.list('logic').map((n) => [n.path, n.port]));
  return got.size === expected.size && [...expected].every(([p, port]) => got.get(p) === port);
}

async function removeAll(paths: Iterable<string>): Promise<void> {
  await Promise.all([...paths].map((p) => peer.remove(p)));
}

function assertExactlyOnce(acks: BioRecord[], ids: number[]): void {
  const counts = new Map<number, number>();
  for (const a of acks) if (a.id !== 0) counts.set(a.id, (counts.get(a.id) ?? 0) + 1);
  for (const id of ids) assert.equal(counts.get(id), 1, `task ${id} acked ${counts.get(id) ?? 0} times`);
  assert.equal(counts.size, ids.length, 'acks for tasks that were never queued');
}

test('bio thread killed mid-task under the ZooKeeper handler: a full ring refuses, every task acked once, the thread restarts', async () => {
  const expected = await createPeers('crash', 200);
  const names = [...expected.keys()].map((p) => p.slice(LOGIC.length + 1));
  const acks: BioRecord[] = [];
  const options = handlerOptions(zk.connectString, SESSION_TIMEOUT_MS);
  const bio = new Bio({
    handler: HANDLER,
    handlerOptions: options,
    processAck: (a) => acks.push(a),
    taskRingBytes: 16 << 10,
    logger: pino({ level: 'silent' }),
  });
  const acked = (id: number) => () => acks.some((a) => a.id === id);
  try {
    await bio.start();
    const connect = bio.addCmdTask(Cmd.CONNECT, '');
    await eventually('connected', acked(connect));
    const firstSession = acks.find((a) => a.id === connect)?.result;
    assert.match(firstSession ?? '', /^[0-9a-f]{16}$/);

    // Each task resyncs the folder, reading all 200 peers; tasks of 4 KB each (padding in values, which
    // SUBSCRIBE ignores) fill the 16 KiB ring after a few.
    const ids = [connect];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try {
        ids.push(bio.addCmdTask(Cmd.SUBSCRIBE, LOGIC, 'logic', names));
      } catch (err) {
        refused = err;
      }
    }
    assert.ok(refused instanceof QueueFullError, 'the caller is told the ring is full');
    assert.ok(ids.length >= 3, `${ids.length - 1} reads queued`);

    await eventually('the first read in flight', () => acks.some((a) => a.cmd === Cmd.EV_NODE_SET), 5000);
    const crashed = once(bio, 'crash');
    const restarted = once(bio, 'restart');
    await bio.terminateWorkerForTesting();
    await crashed;
    await eventually('every task acked', () => ids.every((id) => acked(id)()), 5000);
    assertExactlyOnce(acks, ids);
    const byId = new Map(acks.filter((a) => a.id !== 0).map((a) => [a.id, a]));
    const outcomes = ids.slice(1).map((id) => byId.get(id)?.errName || 'ok');
    // A prefix of reads completed, the one in flight and every queued one were acked WorkerCrashed.
    const firstCrashed = outcomes.indexOf('WorkerCrashed');
    assert.ok(firstCrashed >= 0, `outcomes: ${outcomes}`);
    assert.ok(
      outcomes.slice(firstCrashed).every((o) => o === 'WorkerCrashed'),
      `outcomes: ${outcomes}`,
    );
    assert.ok(
      outcomes.slice(0, firstCrashed).every((o) => o === 'ok'),
      `outcomes: ${outcomes}`,
    );
    for (const id of ids.slice(1 + firstCrashed)) assert.equal(byId.get(id)?.error, BioError.WorkerCrashed);

    await restarted;
    const again = bio.addCmdTask(Cmd.CONNECT, '');
    await eventually('a new session on the new thread', acked(again), 10_000);
    const secondSession = acks.find((a) => a.id === again)?.result;
    assert.ok(secondSession && secondSession !== firstSession, 'the dead thread took its session with it');
    const list = bio.addCmdTask(Cmd.SUBSCRIBE, LOGIC, 'logic');
    await eventually('the new thread serves', acked(list), 5000);
    assert.equal(acks.find((a) => a.id === list)?.values.length, 200);
  } finally {
    await bio.stop();
    await removeAll(expected.keys());
  }
});

test('ZkClient through a bio-thread crash: new session, the old registration deleted at once, never two, table resynced', async (t) => {
  const expected = await createPeers('through', 5);
  const client = await clients.start(
    gateConfig(zk.connectString, {}, { session_timeout: SESSION_TIMEOUT_MS }),
  );
  const oldSelf = client.self as string;
  await eventually('peers in the table', () => sameTable(client, expected));
  const states: string[] = [];
  client.on('state', (s) => states.push(s));
  // The table never serves two registrations of this node, and neither does ZooKeeper (sampled throughout).
  let mostInTable = 0;
  client.on('added', () => {
    mostInTable = Math.max(mostInTable, client.nodes.list('gate').length);
  });
  let sampling = true;
  let mostInZk = 0;
  const sampler = (async () => {
    while (sampling) {
      mostInZk = Math.max(mostInZk, (await peer.children(GATE)).length);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const registered = once(client, 'registered', { signal: AbortSignal.timeout(15_000) });

  const crashedAt = Date.now();
  await bioOf(client).terminateWorkerForTesting();
  // Peers change while the thread is down and restarting.
  const [gone] = expected.keys();
  await peer.remove(gone);
  expected.delete(gone);
  const joined = await createPeers('joined', 1, 9500);
  for (const [p, port] of joined) expected.set(p, port);

  const [newSelf] = (await registered) as [string];
  t.diagnostic(`registered again ${Date.now() - crashedAt} ms after the crash`);
  assert.notEqual(newSelf, oldSelf, 'a new session registers a new node');
  assert.equal(client.self, newSelf);
  // The dead thread's socket died with it, but its session would linger for a session timeout: the new
  // session deleted its nodes before it registered.
  assert.deepEqual(await peer.children(GATE), [newSelf.slice(GATE.length + 1)], 'exactly one registration');
  assert.deepEqual((await peer.children('/kimserver/payload/gate')).length, 1, 'one payload node');
  assert.match(
    await client.metrics.render(),
    /^zkbio_registration_repairs_total\{repair="stale_session"\} 1$/m,
  );
  assert.ok(states.includes('CONNECTING') && states.at(-1) === 'CONNECTED', `states ${states}`);
  await eventually('table resynced', () => sameTable(client, expected), 10_000);
  await eventually('the table holds the new registration', () => client.nodes.get(newSelf) !== undefined);
  assert.deepEqual(
    client.nodes.list('gate').map((n) => n.path),
    [newSelf],
  );
  // Past the old session's timeout: nothing else appeared or went.
  await new Promise((r) => setTimeout(r, SESSION_TIMEOUT_MS + 1000));
  sampling = false;
  await sampler;
  assert.equal(mostInZk, 1, 'ZooKeeper never held two registrations');
  assert.equal(mostInTable, 1, 'the table never served two registrations');
  assert.deepEqual(await peer.children(GATE), [newSelf.slice(GATE.length + 1)]);
  assert.ok(client.healthy);
  await client.stop();
  await removeAll(expected.keys());
});

test('full task ring: ZkClient retries its own tasks (QueueFullError counted), nothing is dropped', async () => {
  // Peers' changes cost no task any more (the bio thread follows the folders), so the tasks that fill the ring
  // are the client's own: a SUBSCRIBE per type on connect. 4 KiB holds about 30 of these 120 types' tasks.
  const types = ['logic', ...Array.from({ length: 119 }, (_, i) => `extra-type-with-a-long-name-${i}`)];
  const client = await clients.start(
    gateConfig(
      zk.connectString,
      { bio: { task_ring_bytes: 4096 } },
      {
        session_timeout: SESSION_TIMEOUT_MS,
        nodes: { root: '/kimserver/nodes', subscribe_node_type: types },
      },
    ),
  );
  const refused = Number(/^zkbio_queue_full_total (\d+)/m.exec(await client.metrics.render())?.[1]);
  assert.ok(refused > 0, 'the ring did fill up');
  // ready() resolved: every one of the 120 SUBSCRIBE tasks was queued in the end and acked.
  const expected = await createPeers('qfull', 300);
  await eventually('300 joined peers in the table', () => sameTable(client, expected), 15_000);
  await Promise.all(
    [...expected.keys()].map((path, i) => {
      expected.set(path, 10_000 + i);
      return peer.set(path, peerJson(path, 'logic', 10_000 + i));
    }),
  );
  await eventually('300 changes applied', () => sameTable(client, expected), 15_000);
  await client.stop();
  await removeAll(expected.keys());
});

test('full ack ring: the bio thread waits for room, no event or ack is lost', async () => {
  // An 8 KiB ack ring drained one ack per 5 ms tick: 200 peers' data (about 40 KB of events) must wait.
  const client = await clients.start(
    gateConfig(
      zk.connectString,
      { bio: { ack_ring_bytes: 8192, max_acks_per_tick: 1, doorbell: false, tick_ms: 5 } },
      { session_timeout: SESSION_TIMEOUT_MS, max_node_bytes: 1024 },
    ),
  );
  const expected = await createPeers('afull', 200);
  await eventually('200 peers in the table', () => sameTable(client, expected), 20_000);
  assert.ok(client.healthy);
  await client.stop();
  await removeAll(expected.keys());
});
