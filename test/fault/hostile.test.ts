// Hostile and bad input that needs a real ZooKeeper: peer data and listings too large for the rings, task
// paths ZooKeeper refuses, unknown task codes, and digest auth against an outsider with no secret leaking.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zookeeper, { CreateMode } from 'node-zookeeper-client';
import pino from 'pino';
import { Bio } from '../../src/bio/bio.js';
import type { BioRecord } from '../../src/ring/codec.js';
import { Cmd } from '../../src/zk/commands.js';
import { ZBADARGUMENTS, ZNOAUTH, ZNONODE } from '../../src/zk/errors.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { Clients, captureLog, gateConfig, handlerOptions } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const HANDLER = new URL('../../src/zk/handler.js', import.meta.url);
const AUTH_NODE = fileURLToPath(new URL('../fixtures/auth-node.js', import.meta.url));
const SECRET = 'pw-Zq81x!s3cret';

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

const counter = (metrics: string, name: string) =>
  Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);

test('peer data larger than the ack ring allows is skipped as too large: no crash, no resync storm', async () => {
  const folder = '/big/nodes/logic';
  await peer.mkdirp(folder);
  const config = gateConfig(
    zk.connectString,
    { bio: { ack_ring_bytes: 8192 } },
    { max_node_bytes: 1024, nodes: { root: '/big/nodes', subscribe_node_type: ['logic'] } },
  );
  const client = await clients.start(config);
  let crashes = 0;
  (client as unknown as { bio: Bio }).bio.on('crash', () => crashes++);
  const over = `${folder}/over-logic`; // over max_node_bytes, still fits a record
  const huge = `${folder}/huge-logic`; // over what one ack ring record can carry (4 KiB)
  const good = `${folder}/good-logic`;
  await peer.create(over, JSON.stringify({ pad: 'x'.repeat(2000) }), CreateMode.PERSISTENT);
  await peer.create(huge, JSON.stringify({ pad: 'y'.repeat(20_000) }), CreateMode.PERSISTENT);
  await peer.create(good, peerJson(good, 'logic', 5000), CreateMode.PERSISTENT);
  await eventually('the good peer arrives', () => client.nodes.get(good) !== undefined);
  await eventually('both big peers counted as too large', async () => {
    const m = await client.metrics.render();
    return /zkbio_bad_peer_data_total\{reason="too_large"\} ([2-9]|\d\d)/.test(m);
  });
  const lists = counter(await client.metrics.render(), 'zkbio_tasks_total\\{cmd="SUBSCRIBE"\\}');
  await new Promise((r) => setTimeout(r, 1000));
  const listsLater = counter(await client.metrics.render(), 'zkbio_tasks_total\\{cmd="SUBSCRIBE"\\}');
  assert.ok(listsLater - lists <= 1, `${listsLater - lists} more listings in 1 s: a resync loop`);
  assert.equal(client.nodes.get(over), undefined);
  assert.equal(client.nodes.get(huge), undefined);
  assert.equal(crashes, 0, 'the bio thread did not die of it');
  assert.ok(client.healthy);

  // Fixed data is picked up: the data watch stayed armed.
  await peer.set(huge, peerJson(huge, 'logic', 5001));
  await eventually('the fixed peer arrives', () => client.nodes.get(huge)?.port === 5001);
  await client.stop();
  for (const p of [over, huge, good]) await peer.remove(p);
});

/** A client following `${root}/logic`, once a peer it may not read and a good peer are there and the good one arrived. */
async function withLockedPeer(root: string, persistentWatches: boolean) {
  const folder = `${root}/logic`;
  await peer.mkdirp(folder);
  const client = await clients.start(
    gateConfig(
      zk.connectString,
      {},
      { nodes: { root, subscribe_node_type: ['logic'] }, persistent_watches: persistentWatches },
    ),
  );
  const locked = `${folder}/locked-logic`;
  const good = `${folder}/good-logic`;
  const denyAll = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', 'x:AAAA'))];
  await peer.create(locked, peerJson(locked, 'logic', 5100), CreateMode.PERSISTENT, denyAll);
  await peer.create(good, peerJson(good, 'logic', 5101), CreateMode.PERSISTENT);
  await eventually('the good peer arrives', () => client.nodes.get(good) !== undefined);
  return { client, locked, good };
}

// With one-shot watches the children watch reports the unreadable node and its read fails ZNOAUTH. A persistent
// recursive watch never reports it (ZooKeeper checks READ before it sends such an event): see the next test.
test('a peer node whose ACL denies reads is skipped as bad data, without a resync loop (one-shot watches)', async () => {
  const { client, locked, good } = await withLockedPeer('/locked/nodes', false);
  await eventually('the locked peer counted as bad data', async () =>
    /zkbio_bad_peer_data_total\{reason="invalid"\} [1-9]/.test(await client.metrics.render()),
  );
  const lists = counter(await client.metrics.render(), 'zkbio_tasks_total\\{cmd="SUBSCRIBE"\\}');
  await new Promise((r) => setTimeout(r, 1000));
  const listsLater = counter(await client.metrics.render(), 'zkbio_tasks_total\\{cmd="SUBSCRIBE"\\}');
  assert.ok(listsLater - lists <= 1, `${listsLater - lists} more listings in 1 s: a resync loop`);
  assert.equal(client.nodes.get(locked), undefined);
  assert.ok(client.healthy);
  await client.stop();
  await peer.remove(good);
});

test('persistent watches: a peer node whose ACL denies reads is never served, and a resync counts it as bad data', async () => {
  const { client, locked, good } = await withLockedPeer('/locked-persistent/nodes', true);
  assert.equal(client.nodes.get(locked), undefined);
  assert.doesNotMatch(await client.metrics.render(), /zkbio_bad_peer_data_total\{reason="invalid"\} [1-9]/);
  // A resync (every reconnect sends one) lists the folder, finds the node and reads it: ZNOAUTH, bad data.
  (client as unknown as { subscriptions: { resyncAll(): void } }).subscriptions.resyncAll();
  await eventually('the locked peer counted as bad data', async () =>
    /zkbio_bad_peer_data_total\{reason="invalid"\} [1-9]/.test(await client.metrics.render()),
  );
  assert.equal(client.nodes.get(locked), undefined);
  assert.ok(client.healthy);
  await client.stop();
  await peer.remove(good);
});

/** A Bio over the real ZooKeeper handler, connected; returns a function that runs one task to its ack. */
async function handlerBio(): Promise<{
  run: (cmd: number, path: string, values?: string[], value?: string) => Promise<BioRecord>;
  bio: Bio;
}> {
  const acks: BioRecord[] = [];
  const options = handlerOptions(zk.connectString);
  const bio = new Bio({
    handler: HANDLER,
    handlerOptions: options,
    processAck: (a) => acks.push(a),
    logger: pino({ level: 'silent' }),
  });
  await bio.start();
  const run = async (cmd: number, path: string, values: string[] = [], value = '') => {
    const id = bio.addCmdTask(cmd, path, value, values);
    await eventually(`task ${cmd} ${JSON.stringify(path)} acked`, () => acks.some((a) => a.id === id), 5000);
    return acks.find((a) => a.id === id) as BioRecord;
  };
  const connected = await run(Cmd.CONNECT, '');
  assert.equal(connected.error, 0);
  return { run, bio };
}

test('the ZooKeeper handler answers ZBADARGUMENTS to unknown task codes and to paths ZooKeeper refuses', async () => {
  const { run, bio } = await handlerBio();
  try {
    // Every code the handler does not know, 0-255 (a task's cmd is one byte), all queued at once.
    const known = new Set<number>(Object.values(Cmd));
    const unknown = [...Array(256).keys()].filter((c) => !known.has(c));
    for (const ack of await Promise.all(unknown.map((cmd) => run(cmd, '/x')))) {
      assert.equal(ack.error, ZBADARGUMENTS, `cmd ${ack.cmd}: ${ack.errName} ${ack.result}`);
      assert.match(ack.result, /unknown task command/);
    }
    // The client library refuses malformed paths before sending anything.
    for (const path of ['', 'relative', '/trailing/', '/double//slash', '/dot/./x', '/dots/..']) {
      const ack = await run(Cmd.SUBSCRIBE, path, [], 'logic');
      assert.equal(
        ack.error,
        ZBADARGUMENTS,
        `SUBSCRIBE ${JSON.stringify(path)}: ${ack.errName} ${ack.result}`,
      );
    }
    // ZooKeeper checks characters when a node is created; a read finds no such node, or refuses the path too.
    for (const bad of ['/nul\u0000x', '/ctl\u0001x', '/sur\uD800x', '/nc\uFFFEx']) {
      const reg = await run(Cmd.REGISTER, `${bad}/gate/s-gate`, ['/payload/gate', '{}'], '{}');
      assert.equal(
        reg.error,
        ZBADARGUMENTS,
        `REGISTER under ${JSON.stringify(bad)}: ${reg.errName} ${reg.result}`,
      );
      const list = await run(Cmd.SUBSCRIBE, bad, [], 'logic');
      assert.ok(
        [0, ZNONODE, ZBADARGUMENTS].includes(list.error) && list.values.length === 0,
        `SUBSCRIBE ${JSON.stringify(bad)}: ${list.errName}`,
      );
    }
    // Child names now come from ZooKeeper only, never from a task; after all of the above the session serves.
    await peer.mkdirp('/badnames');
    const list = await run(Cmd.SUBSCRIBE, '/badnames', [], 'logic');
    assert.equal(list.error, 0, 'the session still serves');
    assert.deepEqual(list.values, []);
  } finally {
    await bio.stop();
  }
});

/** Runs test/fixtures/auth-node.js with `config`; resolves with everything it printed once it is ready. */
function authNode(
  config: Record<string, unknown>,
): Promise<{ ready: Record<string, unknown>; stop: () => Promise<string> }> {
  const child = spawn(process.execPath, [AUTH_NODE, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`auth node not ready:\n${out}`));
    }, 20_000);
    const check = () => {
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (!line) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve({
        ready: JSON.parse(line.slice(6)),
        stop: async () => {
          child.stdin.end();
          const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(kill);
          return out;
        },
      });
    };
    child.stdout.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`auth node exited early:\n${out}`));
    });
  });
}

test('digest auth: an unauthenticated node reads but cannot register; an outsider cannot change or delete; no secret in logs or table', async () => {
  const nodes = { root: '/secure/nodes', subscribe_node_type: ['secure'] };
  const raw = {
    server_name: 'secure',
    node_type: 'secure',
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 1,
    zookeeper: {
      servers: zk.connectString,
      session_timeout: 4000,
      auth: `zkbio:${SECRET}`,
      nodes,
      payload: { root: '/secure/payload' },
    },
  };
  const node = await authNode(raw);
  const self = node.ready.self as string;
  assert.match(self, /^\/secure\/nodes\/secure\/secure-secure\d{10}$/);

  // An unauthenticated zkbio node: it reads the protected folder but its registration is refused.
  const log = captureLog('warn');
  const outsider = await clients.start(
    gateConfig(
      zk.connectString,
      { server_name: 'intruder', node_type: 'secure' },
      { nodes, payload: { root: '/secure/payload' } },
    ),
    { logger: log.logger, ready: false },
  );
  await eventually('the outsider reads the protected table', () => outsider.nodes.get(self) !== undefined);
  await eventually('its registration is refused', () =>
    log.lines().some((l) => l.msg === 'registration failed' && l.error === 'ZNOAUTH'),
  );
  assert.equal(outsider.self, null);
  assert.equal(outsider.healthy, false);
  assert.deepEqual(await peer.children('/secure/nodes/secure'), [self.split('/').pop()]);
  await outsider.stop();

  // A plain client: read yes; change, delete, create no.
  const { data } = await peer.get(self);
  assert.equal(JSON.parse(data).path, self);
  await assert.rejects(peer.set(self, '{}'), (e: { code?: number }) => e.code === ZNOAUTH);
  await assert.rejects(peer.remove(self), (e: { code?: number }) => e.code === ZNOAUTH);
  await assert.rejects(peer.create('/secure/nodes/secure/x', '{}', CreateMode.EPHEMERAL), /NO_AUTH/);
  await assert.rejects(peer.set('/secure/payload/secure', 'x'), /NO_AUTH/);

  const out = await node.stop();
  assert.ok(out.includes('"thread":"bio"'), 'the bio thread logged too, and its lines were captured');
  assert.ok(out.includes('"auth":"[redacted]"'), 'the config was logged, redacted');
  assert.ok(!out.includes(SECRET), 'no secret in the logs or the table');
  assert.ok(!JSON.stringify(node.ready).includes(SECRET));
  assert.ok(!log.text().includes(SECRET));
  await eventually('the node is gone after a graceful stop', async () => (await peer.exists(self)) === null);
});
