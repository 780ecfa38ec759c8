// The own-node registration recipe (src/zk/registration.ts) against a real ZooKeeper, on a real ZkSession
// whose writes can be held back until a watcher peer has read the node: so that peer reads every version of
// the node's data, and any version with a wrong `path` would be seen.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { ACL, CreateMode, Id, Permission } from 'node-zookeeper-client';
import { ZkClient } from '../../src/discovery/zk_client.js';
import type { ZkAcl } from '../../src/zk/acl.js';
import { registerOwnNode } from '../../src/zk/registration.js';
import { type CreateModeValue, type ZkData, ZkSession } from '../../src/zk/session.js';
import { connectPeer, eventually, type PeerClient } from '../support/peer-client.js';
import { VersionReader } from '../support/version-reader.js';
import { Clients, captureLog, gateConfig } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const ROOT = '/reg/nodes';
const PAYLOAD_ROOT = '/reg/payload';
const KIMSERVER_KEYS = ['path', 'type', 'host', 'port', 'worker_cnt', 'active_time'];

let zk: ZkHandle;
let peer: PeerClient;

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
});

after(async () => {
  peer?.close();
  await zk?.stop();
});

/** A ZkSession whose creates and sets first await the hooks: the test's way to interleave with a peer. */
class SteppedSession extends ZkSession {
  beforeCreate: (path: string) => Promise<void> = async () => {};
  beforeSet: (path: string) => Promise<void> = async () => {};

  override async create(
    path: string,
    data: ZkData,
    mode?: CreateModeValue,
    acl?: readonly ZkAcl[],
  ): Promise<string> {
    await this.beforeCreate(path);
    return super.create(path, data, mode, acl);
  }

  override async set(path: string, data: ZkData, version?: number) {
    await this.beforeSet(path);
    return super.set(path, data, version);
  }
}

async function openSession(): Promise<SteppedSession> {
  const s = new SteppedSession({ connectString: zk.connectString, sessionTimeoutMs: 4000 });
  await s.connect();
  return s;
}

/** Creates and deletes `n` siblings in `folder`: each moves the folder's cversion on by two. */
async function churn(folder: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const p = await peer.create(`${folder}/sibling-`, 'x', CreateMode.PERSISTENT_SEQUENTIAL);
    await peer.remove(p);
  }
}

const fields = { type: 'gate', host: '127.0.0.1', port: '3355', worker_cnt: 2 };
const spec = (type: string) => ({
  prefix: `${ROOT}/${type}/kimserver-${type}`,
  fields: { ...fields, type },
  payloadFolder: `${PAYLOAD_ROOT}/${type}`,
  payload: '{"load":1}',
});

test('no peer ever reads a wrong path: siblings come and go before and during the registration', async () => {
  const folder = `${ROOT}/churned`;
  await peer.mkdirp(folder);
  await churn(folder, 3); // the folder has seen deletions: its cversion is not the next sequence number
  const reader = new VersionReader(peer.client, folder);
  reader.start();
  const s = await openSession();
  try {
    const own = spec('churned');
    // Peers join and leave between anything the registration read and its create.
    s.beforeCreate = async (path) => {
      if (path === own.prefix) await churn(folder, 2);
    };
    // Every write waits until the watcher has read the node's current version, so it reads every version.
    s.beforeSet = async (path) => {
      const stat = await peer.exists(path);
      assert.ok(stat, `${path} exists before it is written`);
      await eventually(`the watcher read version ${stat.version} of ${path}`, () =>
        reader.versions(path).has(stat.version),
      );
    };
    const { path } = await registerOwnNode(s, s.defaultAcl(), own);
    const { data, stat } = await peer.get(path);
    await eventually('the watcher read the final version', () => reader.versions(path).has(stat.version));

    const seen = reader.reads.filter((r) => r.path === path);
    for (const r of seen) {
      if (r.data === '') continue; // kimserver skips empty data, and its data watch brings the JSON next
      const json = JSON.parse(r.data) as { path: string };
      assert.equal(json.path, path, `version ${r.version} of ${path} carried path ${json.path}`);
    }
    assert.deepEqual(
      [...reader.versions(path)].sort((a, b) => a - b),
      Array.from({ length: stat.version + 1 }, (_, i) => i),
      'the watcher read every version',
    );
    const json = JSON.parse(data) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), KIMSERVER_KEYS, "exactly kimserver's six fields, in its order");
    assert.deepEqual(
      { ...json, active_time: undefined },
      { path, ...fields, type: 'churned', active_time: undefined },
    );
    assert.equal(typeof json.active_time, 'number');
  } finally {
    reader.stop();
    await s.close();
  }
});

test('a retried registration that finds its own node puts its data, its payload node and stale payloads right', async () => {
  const s = await openSession();
  try {
    const own = spec('retried');
    const { path } = await registerOwnNode(s, s.defaultAcl(), own);
    const name = path.slice(path.lastIndexOf('/') + 1);
    const want = (await peer.get(path)).data;
    // Everything goes wrong meanwhile: the data is overwritten, the payload node is gone, and a payload node of
    // an earlier registration of this session is left over.
    await peer.set(path, '{"path":"elsewhere"}');
    await peer.remove(`${own.payloadFolder}/${name}`);
    const stale = `${own.payloadFolder}/kimserver-retried0000000999`;
    await s.create(stale, '{}', CreateMode.EPHEMERAL as CreateModeValue);

    const again = await registerOwnNode(s, s.defaultAcl(), own);
    assert.equal(again.path, path, 'the same node, not a second one');
    assert.deepEqual((await peer.children(`${ROOT}/retried`)).length, 1);
    assert.equal((await peer.get(path)).data, want, 'the data is written back');
    assert.deepEqual(
      await peer.children(own.payloadFolder),
      [name],
      'the payload node is back, the stale one gone',
    );
    assert.equal((await peer.get(`${own.payloadFolder}/${name}`)).data, own.payload);
  } finally {
    await s.close();
  }
});

// ---- ZkClient: the main side of the registration, through the bio thread ----

const clients = new Clients();
after(() => clients.stopAll());

/** A gate node subscribing only to logic, so nothing but the registration itself reads or watches its node. */
const ownConfig = (
  serverName: string,
  extra: Record<string, unknown> = {},
  zookeeper: Record<string, unknown> = {},
) =>
  gateConfig(
    zk.connectString,
    { server_name: serverName, ...extra },
    { nodes: { root: '/kimserver/nodes', subscribe_node_type: ['logic'] }, ...zookeeper },
  );

function repairs(metrics: string, repair: string): number {
  const m = new RegExp(`^zkbio_registration_repairs_total\\{repair="${repair}"\\} (\\d+)$`, 'm').exec(
    metrics,
  );
  return m ? Number(m[1]) : 0;
}

test('a payload too large for a task is refused at setPayload() with the limit named; registration goes on', async () => {
  const log = captureLog('info');
  const client = new ZkClient(ownConfig('heavy', { bio: { task_ring_bytes: 4096 } }), { logger: log.logger });
  client.setPayload({ load: 1 });
  // 4 KiB of task ring takes tasks of up to 2 KiB: this report cannot cross in a REGISTER.
  const huge = { blob: 'x'.repeat(3000) };
  assert.throws(
    () => client.setPayload(huge),
    (err: Error & { code?: string }) =>
      err.code === 'PAYLOAD_TOO_LARGE' && /larger than a task allows: \d+ bytes at most/.test(err.message),
  );
  try {
    await client.start();
    await client.ready(10_000);
    const self = client.self as string;
    const payloadPath = `/kimserver/payload/gate/${self.slice(self.lastIndexOf('/') + 1)}`;
    assert.equal((await peer.get(payloadPath)).data, '{"load":1}', 'the last good report is kept');
    // Registering is not stuck: the node comes back after a deletion from outside.
    const again = once(client, 'registered', { signal: AbortSignal.timeout(10_000) });
    await peer.remove(self);
    await again;
    assert.ok(client.healthy);
  } finally {
    await client.stop();
  }
});

test('own node watched from the first registration: data overwritten is written back, a deleted node created again, a failed arm retried; each counted and logged', async () => {
  const log = captureLog('info');
  const client = await clients.start(ownConfig('watched'), { logger: log.logger });
  const logged = (repair: string) => log.lines().filter((l) => l.repair === repair).length;
  const counted = async (repair: string) => repairs(await client.metrics.render(), repair);
  // The bio thread writes before its ack reaches the main side, which counts and logs.
  const repaired = async (repair: string, n: number) => {
    await eventually(`${repair} repairs counted`, async () => (await counted(repair)) >= n);
    assert.equal(await counted(repair), n, repair);
    assert.equal(logged(repair), n, repair);
  };
  let self = client.self as string;
  let json = (await peer.get(self)).data;

  await peer.set(self, '{"path":"/somewhere/else"}');
  await eventually('data written back', async () => (await peer.get(self)).data === json);
  await repaired('data', 1);

  const again = once(client, 'registered', { signal: AbortSignal.timeout(10_000) });
  await peer.remove(self);
  const [second] = (await again) as [string];
  assert.notEqual(second, self);
  self = second;
  json = (await peer.get(self)).data;
  assert.equal(JSON.parse(json).path, self);
  await repaired('recreated', 1);

  // The own node is overwritten and, in the same breath, its ACL changed from outside so that we cannot read
  // it (both requests pipelined: ZooKeeper applies the second long before our reaction to the first arrives).
  // Re-arming the watch fails, and is retried until the ACL is back; then the data is right again, and the
  // watch is armed again. (ZooKeeper tells no watcher that may not read of later changes: the data change
  // has to come first.)
  const open = [new ACL(Permission.ALL, new Id('world', 'anyone'))];
  const noRead = [new ACL(Permission.ALL & ~Permission.READ, new Id('world', 'anyone'))];
  const setAcl = (acl: ACL[]) =>
    new Promise<void>((res, rej) => peer.client.setACL(self, acl, -1, (e) => (e ? rej(e) : res())));
  const failures = () => log.lines().filter((l) => l.msg === 'registration failed').length;
  await Promise.all([peer.set(self, 'overwritten, then unreadable'), setAcl(noRead)]);
  await eventually('the failed arm retried', () => failures() >= 2);
  await setAcl(open);
  await eventually('data written back once readable', async () => (await peer.get(self)).data === json);
  // The run that wrote back reads the node once more before it acks: a change made before that read is put
  // right by the same run, and counted with it. So the next change waits for this run's ack.
  await repaired('data', 2);
  await peer.set(self, 'and again');
  await eventually('the watch is armed again', async () => (await peer.get(self)).data === json);
  await repaired('data', 3);
  assert.ok(client.healthy);
  assert.deepEqual(
    await peer.children('/kimserver/nodes/gate').then((c) => c.filter((n) => n.startsWith('watched'))),
    [self.slice(self.lastIndexOf('/') + 1)],
  );
});

test('through ZkClient, with peers joining and leaving all along: every read of every own node shows its real path', async () => {
  const folder = '/kimserver/nodes/gate';
  await peer.mkdirp(folder);
  const reader = new VersionReader(peer.client, folder);
  reader.start();
  let churning = true;
  const churner = (async () => {
    while (churning) await churn(folder, 1);
  })();
  const client = await clients.start(ownConfig('busy'));
  try {
    const paths = [client.self as string];
    for (let i = 0; i < 3; i++) {
      const again = once(client, 'registered', { signal: AbortSignal.timeout(10_000) });
      await peer.remove(paths[paths.length - 1]);
      paths.push(((await again) as [string])[0]);
    }
    const last = paths[paths.length - 1];
    const { stat } = await peer.get(last);
    await eventually('the reader read the last node', () => reader.versions(last).has(stat.version));
    churning = false;
    await churner;
    const own = reader.reads.filter((r) => r.path.startsWith(`${folder}/busy-gate`));
    assert.ok(own.length >= paths.length, `${own.length} reads of ${paths.length} own nodes`);
    for (const r of own) {
      if (r.data === '') continue;
      assert.equal(
        (JSON.parse(r.data) as { path: string }).path,
        r.path,
        `version ${r.version} of ${r.path}`,
      );
    }
    assert.deepEqual(Object.keys(JSON.parse((await peer.get(last)).data)), KIMSERVER_KEYS);
  } finally {
    churning = false;
    await churner;
    reader.stop();
    await client.stop();
  }
});

test('payload node deleted from outside: the next payload write finds it gone and the registration creates it again', async () => {
  const client = await clients.start(ownConfig('loaded', {}, { payload_interval: 100 }));
  const self = client.self as string;
  const payloadPath = `/kimserver/payload/gate/${self.slice(self.lastIndexOf('/') + 1)}`;
  await peer.remove(payloadPath);
  client.setPayload({ load: 7 });
  await eventually('payload node created again with the latest report', async () => {
    const stat = await peer.exists(payloadPath);
    return stat !== null && (await peer.get(payloadPath)).data === '{"load":7}';
  });
  await eventually('counted', async () => repairs(await client.metrics.render(), 'payload') === 1);
  assert.ok(client.healthy);
});
