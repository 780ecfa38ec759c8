// ZkClient against a real ZooKeeper on loopback. An independent client (plain node-zookeeper-client) plays
// the peers and reads ZooKeeper's truth.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateMode } from 'node-zookeeper-client';
import type { ZkNode } from '../../src/nodes/validate.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { gateConfig as baseConfig, Clients, captureLog, nextRegistered } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

let zk: ZkHandle;
let peer: PeerClient;
const clients = new Clients();

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
});

after(async () => {
  await clients.stopAll();
  peer?.close();
  await zk?.stop();
});

const gateConfig = (extra: Record<string, unknown> = {}, zookeeper: Record<string, unknown> = {}) =>
  baseConfig(zk.connectString, extra, zookeeper);
const startClient = (config = gateConfig()) => clients.start(config);

test('registration: kimserver layout and JSON, visible to an independent client, payload beside it', async () => {
  const client = await startClient();
  const self = client.self;
  assert.ok(self);
  assert.match(self, /^\/kimserver\/nodes\/gate\/kimserver-gate\d{10}$/);
  const { data, stat } = await peer.get(self);
  const json = JSON.parse(data);
  assert.deepEqual(Object.keys(json).sort(), ['active_time', 'host', 'path', 'port', 'type', 'worker_cnt']);
  assert.equal(json.path, self, 'the JSON carries the node its own full path');
  assert.equal(json.type, 'gate');
  assert.equal(json.host, '127.0.0.1');
  assert.equal(json.port, '3355', 'port is written as a string, as kimserver does');
  assert.equal(json.worker_cnt, 2);
  assert.ok(Math.abs(json.active_time - Date.now() / 1000) < 60);
  assert.notEqual(stat.ephemeralOwner.toString('hex'), '0000000000000000', 'the node is ephemeral');
  const payload = await peer.exists(`/kimserver/payload/gate/${self.split('/').pop()}`);
  assert.ok(payload, 'the payload node sits at the same name under the payload root');
  // It subscribes to its own type too, so it sees itself, through the ring like any peer.
  await eventually('own node in the table', () => client.nodes.get(self) !== undefined);
  assert.equal(client.state, 'CONNECTED');
  assert.equal(client.healthy, true);
  await client.stop();
  assert.equal(await peer.exists(self), null, 'a graceful stop removes the node at once');
  assert.equal(client.state, 'CLOSED');
});

test('peers join, change and leave; added, changed and removed events carry the nodes', async () => {
  const client = await startClient();
  const added: ZkNode[] = [];
  const removed: ZkNode[] = [];
  const changed: { old: ZkNode; new: ZkNode }[] = [];
  client.on('added', (n) => added.push(n));
  client.on('removed', (n) => removed.push(n));
  client.on('changed', (c) => changed.push(c));
  await peer.mkdirp('/kimserver/nodes/logic');
  const paths: string[] = [];
  for (let i = 0; i < 5; i++) {
    const path = await peer.create(
      '/kimserver/nodes/logic/kimserver-logic',
      '',
      CreateMode.EPHEMERAL_SEQUENTIAL,
    );
    await peer.set(path, peerJson(path, 'logic', 4000 + i));
    paths.push(path);
  }
  await eventually('5 logic peers', () => client.nodes.list('logic').length === 5);
  assert.deepEqual(
    added
      .map((n) => n.path)
      .filter((p) => p.includes('/logic/'))
      .sort(),
    [...paths].sort(),
  );
  const hit = client.nodes.getNodeInHash('logic', 'user-42');
  assert.ok(hit && hit.port >= 4000 && hit.port < 4005 && hit.workerIndex >= 1 && hit.workerIndex <= 2);

  await peer.set(paths[0], peerJson(paths[0], 'logic', 4100, 3));
  await eventually('data change applied', () => client.nodes.get(paths[0])?.port === 4100);
  assert.equal(client.nodes.get(paths[0])?.worker_cnt, 3);
  assert.equal(changed.at(-1)?.new.port, 4100);
  assert.equal(changed.at(-1)?.old.port, 4000);

  await peer.remove(paths[1]);
  await eventually('peer removed', () => client.nodes.get(paths[1]) === undefined);
  assert.deepEqual(
    removed.map((n) => n.path),
    [paths[1]],
  );
  for (const p of [paths[0], ...paths.slice(2)]) await peer.remove(p);
  await eventually('all logic peers gone', () => client.nodes.list('logic').length === 0);
  await client.stop();
});

test('bad peer data is skipped and counted, and a later fix is picked up', async () => {
  const client = await startClient();
  await peer.mkdirp('/kimserver/nodes/logic');
  const bad = await peer.create(
    '/kimserver/nodes/logic/bad-logic',
    'not json {',
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
  const missing = await peer.create(
    '/kimserver/nodes/logic/bad-logic',
    JSON.stringify({ type: 'logic', host: '127.0.0.1' }),
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
  const huge = await peer.create(
    '/kimserver/nodes/logic/bad-logic',
    JSON.stringify({ pad: 'x'.repeat(70_000) }),
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
  const good = await peer.create('/kimserver/nodes/logic/good-logic', '', CreateMode.EPHEMERAL_SEQUENTIAL);
  await peer.set(good, peerJson(good, 'logic', 5000));
  await eventually('the good peer arrives', () => client.nodes.get(good) !== undefined);
  // getChildren's order is ZooKeeper's, not creation order: the bad ones may be read after the good one.
  const counted = (reason: string) => new RegExp(`zkbio_bad_peer_data_total\\{reason="${reason}"\\} [1-9]`);
  await eventually('each bad node counted under its reason', async () => {
    const metrics = await client.metrics.render();
    return ['not_json', 'invalid', 'too_large'].every((r) => counted(r).test(metrics));
  });
  for (const p of [bad, missing, huge]) assert.equal(client.nodes.get(p), undefined);
  assert.equal(client.state, 'CONNECTED');

  await peer.set(bad, peerJson(bad, 'logic', 5001));
  await eventually(
    'the fixed peer arrives: its data watch stayed armed',
    () => client.nodes.get(bad)?.port === 5001,
  );
  for (const p of [bad, missing, huge, good]) await peer.remove(p);
  await client.stop();
});

test('a type whose folder does not exist yet is picked up when it appears', async () => {
  const client = await startClient(
    gateConfig({}, { nodes: { root: '/kimserver/nodes', subscribe_node_type: ['late'] } }),
  );
  assert.equal(await peer.exists('/kimserver/nodes/late'), null);
  await peer.mkdirp('/kimserver/nodes/late');
  const p = await peer.create('/kimserver/nodes/late/x-late', '', CreateMode.EPHEMERAL_SEQUENTIAL);
  await peer.set(p, peerJson(p, 'late', 6000));
  await eventually('late type node seen', () => client.nodes.get(p)?.port === 6000);
  await peer.remove(p);
  await eventually('late node gone', () => client.nodes.get(p) === undefined);
  await client.stop();
});

test('ZooKeeper killed and restarted inside the session timeout: same registration, changes reconciled', async () => {
  const client = await startClient();
  await peer.mkdirp('/kimserver/nodes/logic');
  const stay = await peer.create(
    '/kimserver/nodes/logic/stay-logic',
    peerJson('', 'logic', 7000),
    CreateMode.PERSISTENT_SEQUENTIAL,
  );
  const go = await peer.create(
    '/kimserver/nodes/logic/go-logic',
    peerJson('', 'logic', 7001),
    CreateMode.PERSISTENT_SEQUENTIAL,
  );
  await eventually(
    'both peers seen',
    () => client.nodes.get(stay) !== undefined && client.nodes.get(go) !== undefined,
  );
  const self = client.self;
  const states: string[] = [];
  client.on('state', (s) => states.push(s));

  await zk.server(1).kill('SIGKILL');
  await eventually('suspended', () => client.state === 'SUSPENDED');
  assert.equal(client.nodes.get(stay)?.port, 7000, 'the last known table keeps serving');
  await zk.server(1).start();
  // Change things as soon as the server is back, racing the client's reconnect.
  const late = await connectPeer(zk.connectString);
  try {
    await late.remove(go);
    await late.set(stay, peerJson(stay, 'logic', 7100));
    const fresh = await late.create(
      '/kimserver/nodes/logic/new-logic',
      peerJson('', 'logic', 7002),
      CreateMode.PERSISTENT_SEQUENTIAL,
    );
    await eventually('reconnected', () => client.state === 'CONNECTED');
    await eventually(
      'outage changes reconciled',
      () =>
        client.nodes.get(go) === undefined &&
        client.nodes.get(stay)?.port === 7100 &&
        client.nodes.get(fresh) !== undefined,
    );
    assert.equal(client.self, self, 'same session, same registration');
    assert.ok(await late.exists(self as string));
    assert.ok(!states.includes('EXPIRED'));
    for (const p of [stay, fresh]) await late.remove(p);
  } finally {
    late.close();
  }
  await client.stop();
});

test('digest auth: nodes carry ACLs; an outsider can read but not register, change or delete', async () => {
  const client = await startClient(
    gateConfig(
      { server_name: 'secure', node_type: 'secure' },
      {
        auth: 'zkbio:s3cret',
        nodes: { root: '/secure/nodes', subscribe_node_type: ['secure'] },
        payload: { root: '/secure/payload' },
      },
    ),
  );
  const self = client.self as string;
  const outsider = await connectPeer(zk.connectString);
  try {
    const { data } = await outsider.get(self);
    assert.equal(JSON.parse(data).path, self, 'world can read');
    await assert.rejects(outsider.set(self, '{}'), /NO_AUTH/);
    await assert.rejects(outsider.remove(self), /NO_AUTH/);
    await assert.rejects(
      outsider.create('/secure/nodes/secure/intruder', '{}', CreateMode.EPHEMERAL),
      /NO_AUTH/,
    );
    await assert.rejects(outsider.set('/secure/nodes/secure', 'x'), /NO_AUTH/);
    const body = JSON.stringify(client.nodes.list());
    assert.ok(!body.includes('s3cret'));
  } finally {
    outsider.close();
  }
  await client.stop();
});

test('stop() returns promptly while ZooKeeper is unreachable and the connect is still retrying', async () => {
  const client = await clients.start(baseConfig('127.0.0.1:1', {}, { connect_timeout: 500 }), {
    ready: false,
  });
  await eventually('retrying', async () =>
    (await client.metrics.render()).includes('zkbio_tasks_total{cmd="CONNECT"} 1'),
  );
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(client.state, 'CONNECTING');
  assert.equal(client.healthy, false);
  const t0 = Date.now();
  await client.stop();
  assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms`);
  assert.equal(client.state, 'CLOSED');
});

test('own node deleted from outside: registers again at once, and leaves one payload node', async () => {
  const log = captureLog();
  const client = await clients.start(
    gateConfig(
      { server_name: 'victim' },
      { nodes: { root: '/kimserver/nodes', subscribe_node_type: ['logic'] } },
    ),
    { logger: log.logger },
  );
  const first = client.self as string;
  const registered = nextRegistered(client, log);
  await peer.remove(first);
  const second = await registered;
  assert.notEqual(second, first);
  assert.equal(client.self, second);
  assert.ok(await peer.exists(second));
  const payloads = (await peer.children('/kimserver/payload/gate')).filter((n) =>
    n.startsWith('victim-gate'),
  );
  assert.deepEqual(payloads, [second.split('/').pop()], "the first registration's payload node was removed");
  const json = JSON.parse((await peer.get(second)).data);
  assert.equal(json.path, second);
  // The new node is watched too.
  const third = nextRegistered(client, log);
  await peer.remove(second);
  assert.ok((await third).startsWith('/kimserver/nodes/gate/victim-gate'));
  await client.stop();
});
