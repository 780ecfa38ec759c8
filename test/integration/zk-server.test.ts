// The loopback ZooKeeper harness itself: a standalone server and a 3-server ensemble start, serve a real client,
// survive the loss of the ensemble's leader, and leave no JVM behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import zookeeper from 'node-zookeeper-client';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const started: ZkHandle[] = [];
after(async () => {
  await Promise.all(started.map((zk) => zk.stop()));
});

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Connects a plain client, creates `path` and reads it back, then closes. */
async function createAndRead(connectString: string, path: string): Promise<string> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 4000, spinDelay: 100 });
  try {
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await withTimeout(connected, 10000, 'connect');
    await withTimeout(
      new Promise<void>((resolve, reject) =>
        client.create(path, Buffer.from('hello'), (err) => (err ? reject(err) : resolve())),
      ),
      10000,
      `create ${path}`,
    );
    return await withTimeout(
      new Promise<string>((resolve, reject) =>
        client.getData(path, (err, data) => (err ? reject(err) : resolve(data.toString()))),
      ),
      10000,
      `get ${path}`,
    );
  } finally {
    client.close();
  }
}

function javaPidsOf(zk: ZkHandle): number[] {
  return zk.servers.map((s) => s.pid).filter((p): p is number => p !== undefined);
}

function alive(pid: number): boolean {
  return spawnSync('kill', ['-0', String(pid)]).status === 0;
}

test('standalone server: serves, then stops leaving nothing', { timeout: 60000 }, async () => {
  const t0 = Date.now();
  const zk = await startZk({ local: true });
  started.push(zk);
  console.log(`standalone serving after ${Date.now() - t0} ms`);
  assert.equal(zk.servers.length, 1);
  assert.equal(await zk.leaderId(), 1);
  assert.equal(await zk.server(1).mode(), 'standalone');
  assert.equal(await createAndRead(zk.connectString, '/zk-server-test'), 'hello');

  const pids = javaPidsOf(zk);
  const dataDir = zk.server(1).dataDir;
  await zk.stop();
  assert.ok(
    pids.every((p) => !alive(p)),
    'the JVM is gone',
  );
  assert.equal(existsSync(dataDir), false, 'the temp dir is gone');
});

test('restart keeps data and ports', { timeout: 60000 }, async () => {
  const zk = await startZk({ local: true });
  started.push(zk);
  await createAndRead(zk.connectString, '/survives');
  const port = zk.server(1).clientPort;
  await zk.server(1).kill('SIGKILL');
  assert.equal(zk.server(1).isRunning, false);
  const t0 = Date.now();
  await zk.server(1).start();
  console.log(`standalone restart serving after ${Date.now() - t0} ms`);
  assert.equal(zk.server(1).clientPort, port);
  // The node is still there: creating it again fails with NODE_EXISTS.
  await assert.rejects(createAndRead(zk.connectString, '/survives'), /NODE_EXISTS/);
  await zk.stop();
});

test('3-server ensemble: survives the loss of its leader', { timeout: 90000 }, async () => {
  const t0 = Date.now();
  const zk = await startZk({ servers: 3, local: true });
  started.push(zk);
  console.log(`ensemble serving after ${Date.now() - t0} ms`);
  const modes = await Promise.all(zk.servers.map((s) => s.mode()));
  assert.deepEqual(modes.filter((m) => m === 'leader').length, 1, `one leader among ${modes.join(',')}`);
  assert.equal(await createAndRead(zk.connectString, '/before'), 'hello');

  const leader = await zk.leaderId();
  assert.ok(leader !== undefined);
  await zk.server(leader).kill('SIGKILL');
  const t1 = Date.now();
  // Two of three still form a quorum: wait for a new leader, then serve a client again.
  await zk.waitServing(20000);
  const newLeader = await zk.leaderId();
  console.log(`new leader ${newLeader} after ${Date.now() - t1} ms`);
  assert.ok(newLeader !== undefined && newLeader !== leader);
  assert.equal(await createAndRead(zk.connectString, '/after'), 'hello');

  const pids = javaPidsOf(zk);
  await zk.stop();
  assert.ok(
    pids.every((p) => !alive(p)),
    'every JVM is gone',
  );
});

test('no JVM of ours remains', () => {
  const r = spawnSync('pgrep', ['-P', String(process.pid), 'java'], { encoding: 'utf8' });
  assert.equal(r.stdout.trim(), '', 'no java child of this process');
});
