// The operator commands as a user runs them (bin/zkbio.js in a child process) against a real ZooKeeper:
// zkbio ls, lookup and watch, with peers played by an independent client, and zkbio lookup checked against a
// running node's GET /lookup for the same keys.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import zookeeper, { CreateMode } from 'node-zookeeper-client';
import { digestId } from '../../src/zk/acl.js';
import {
  freePort,
  runZkbio,
  spawnZkbio,
  startCliNode,
  writeConfig,
  type ZkbioProcess,
} from '../support/cli-node.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const ROOT = '/ops/nodes';

let zk: ZkHandle;
let peer: PeerClient;

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
  await peer.mkdirp(`${ROOT}/logic`);
});
after(async () => {
  peer?.close();
  await zk?.stop();
});

const zkbio = runZkbio;

const target = () => ['--servers', zk.connectString, '--root', ROOT];

async function addPeer(name: string, port: number, workers = 2, data?: string): Promise<string> {
  return peer.create(
    `${ROOT}/logic/${name}`,
    data ?? peerJson('', 'logic', port, workers),
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
}

interface LsJson {
  root: string;
  nodes: { path: string; type: string; host: string; port: number; worker_cnt: number; serving: boolean }[];
  bad: { path: string; type: string; reason: string; detail: string }[];
  registering: string[];
}

test('zkbio --help prints every command and exits 0', async () => {
  const r = await zkbio(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const cmd of ['node', 'zk start', 'ls', 'lookup', 'watch'])
    assert.match(r.stdout, new RegExp(`zkbio ${cmd} `));
  const sub = await zkbio(['lookup', '--help']);
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /^usage: zkbio lookup .*--type T .*KEY\.\.\./);
});

test('zkbio ls: nodes as the table holds them, shadowed ones marked, bad peer data with its reason, a node created empty as registering', async () => {
  const a = await addPeer('ls-a', 4101);
  const old = await addPeer(
    'ls-b',
    4102,
    1,
    JSON.stringify({ type: 'logic', host: '127.0.0.1', port: '4102', worker_cnt: 1, active_time: 1 }),
  );
  const newer = await addPeer('ls-b', 4102, 3);
  const notJson = await addPeer('ls-bad', 0, 0, '{oops');
  // Created empty and never written: a peer registering the kimserver way, which a node waits for. Emptied
  // after its JSON was set: bad data.
  const registering = await addPeer('ls-registering', 0, 0, '');
  const empty = await addPeer('ls-empty', 4103);
  await peer.set(empty, '');
  const noPort = await addPeer(
    'ls-noport',
    0,
    0,
    JSON.stringify({ type: 'logic', host: 'h', worker_cnt: 1, active_time: 1 }),
  );
  try {
    const r = await zkbio(['ls', ...target(), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const ls = JSON.parse(r.stdout) as LsJson;
    assert.equal(ls.root, ROOT);
    const byPath = new Map(ls.nodes.map((n) => [n.path, n]));
    assert.deepEqual([...byPath.keys()].sort(), [a, old, newer].sort());
    assert.equal(byPath.get(a)?.serving, true);
    assert.equal(byPath.get(a)?.port, 4101, "kimserver's port string normalised");
    assert.equal(byPath.get(newer)?.serving, true, 'the newest registration of a host:port serves');
    assert.equal(byPath.get(old)?.serving, false);
    const bad = new Map(ls.bad.map((b) => [b.path, b]));
    assert.equal(bad.get(notJson)?.reason, 'not_json');
    assert.equal(bad.get(empty)?.reason, 'empty');
    assert.equal(bad.has(registering), false, 'created empty is no bad data');
    assert.deepEqual(ls.registering, [registering]);
    assert.equal(bad.get(noPort)?.reason, 'invalid');
    assert.match(bad.get(noPort)?.detail ?? '', /port/);

    const text = await zkbio(['ls', ...target(), '--type', 'logic']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${notJson}\\s.*BAD not_json: `));
    assert.match(text.stdout, new RegExp(`${old}\\s.*shadowed`));
    assert.match(text.stdout, new RegExp(`${registering}\\s.*registering \\(created empty`));
    assert.match(text.stdout, /3 node\(s\), 3 with bad data, 1 registering, under \/ops\/nodes/);
  } finally {
    for (const p of [a, old, newer, notJson, empty, registering, noPort]) await peer.remove(p);
  }
});

test("zkbio lookup agrees with a running node's GET /lookup for the same keys", async () => {
  const peers: string[] = [];
  for (let i = 0; i < 6; i++) peers.push(await addPeer(`lk-${i}`, 4200 + i, 1 + (i % 4)));
  const config = writeConfig({
    server_name: 'lookup-node',
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 1,
    zookeeper: {
      servers: zk.connectString,
      session_timeout: 4000,
      nodes: { root: ROOT, subscribe_node_type: ['logic'] },
      payload: { root: '/ops/payload' },
      log_level: 'warn',
    },
  });
  const node = await startCliNode(config, ['--workers', '0']);
  try {
    await eventually(
      'the node holds the 6 peers',
      async () => {
        try {
          const r = await node.get('/nodes');
          return r.status === 200 && r.json<{ nodes: unknown[] }>().nodes.length === 6;
        } catch {
          return false;
        }
      },
      20_000,
    );
    const keys = [...Array.from({ length: 300 }, (_, i) => `user-${i * 7919}`), '1', '42', 'éclair', '', ' '];
    const r = await zkbio(['lookup', '--config', config, '--type', 'logic', '--json', '--', ...keys]);
    assert.equal(r.code, 0, r.stderr);
    const answers = JSON.parse(r.stdout) as {
      key: string;
      id: string;
      host: string;
      port: number;
      worker_index: number;
    }[];
    assert.deepEqual(
      answers.map((a) => a.key),
      keys,
      'one answer per key, in the order given',
    );
    for (const a of answers) {
      const http = await node.get(`/lookup?type=logic&key=${encodeURIComponent(a.key)}`);
      assert.equal(http.status, 200);
      const want = http.json<{ id: string; host: string; port: number; worker_index: number }>();
      assert.deepEqual(
        { id: a.id, host: a.host, port: a.port, worker_index: a.worker_index },
        { id: want.id, host: want.host, port: want.port, worker_index: want.worker_index },
        `key ${JSON.stringify(a.key)}`,
      );
    }
    const plain = await zkbio(['lookup', ...target(), '--type', 'logic', '42']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, `42  ${answers.find((a) => a.key === '42')?.id}\n`);

    const none = await zkbio(['lookup', ...target(), '--type', 'nosuch', 'k']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no node of type "nosuch" serves under \/ops\/nodes/);
    const noType = await zkbio(['lookup', ...target(), 'k']);
    assert.equal(noType.code, 2);
    assert.match(noType.stderr, /--type is required/);
  } finally {
    assert.equal(await node.stop(), 0);
    for (const p of peers) await peer.remove(p);
  }
});

/** The JSON lines `zkbio watch --json` printed so far. */
function watchEvents(run: ZkbioProcess): Record<string, unknown>[] {
  return run
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('zkbio watch: the nodes, then added, changed, bad and removed as they happen; SIGTERM exits 0', async () => {
  const first = await addPeer('w-first', 4301);
  const w = spawnZkbio(['watch', ...target(), '--type', 'logic', '--json']);
  try {
    await eventually('watching', () => w.stderr().includes('watching logic under /ops/nodes'), 15_000);
    const seen = (event: string, path: string) => () =>
      watchEvents(w).some(
        (e) =>
          e.event === event &&
          ((e.node as { path?: string })?.path ?? (e.new as { path?: string })?.path ?? e.path) === path,
      );
    await eventually('the first node, as added', seen('added', first));

    const second = await addPeer('w-second', 4302);
    await eventually('a node that joins', seen('added', second));
    await peer.set(second, peerJson(second, 'logic', 4302, 4));
    await eventually('a node that changes', seen('changed', second));
    const change = watchEvents(w).find((e) => e.event === 'changed') as {
      old: { worker_cnt: number };
      new: { worker_cnt: number };
    };
    assert.equal(change.old.worker_cnt, 2);
    assert.equal(change.new.worker_cnt, 4);
    await peer.set(second, 'not json');
    await eventually('data that turns bad', seen('bad', second));
    await eventually('a bad node no longer serves', seen('removed', second));
    await peer.remove(first);
    await eventually('a node that leaves', seen('removed', first));
    await peer.remove(second);
  } finally {
    w.proc.kill('SIGTERM');
  }
  assert.equal(await w.exited, 0, w.stderr());
});

test('--auth and --config: digest credentials read a node only they may read', async () => {
  // Readable by the digest identity alone: without the credentials it is bad data (ZNOAUTH), as in a node.
  const acl = [
    new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', digestId('ops', 'pw'))),
  ];
  const secret = await peer.create(
    `${ROOT}/logic/auth-only`,
    peerJson('', 'logic', 4401),
    CreateMode.EPHEMERAL_SEQUENTIAL,
    acl,
  );
  try {
    const without = JSON.parse((await zkbio(['ls', ...target(), '--json'])).stdout) as LsJson;
    assert.match(without.bad.find((b) => b.path === secret)?.detail ?? '', /ZNOAUTH/);
    const withAuth = await zkbio(['ls', ...target(), '--auth', 'ops:pw', '--json']);
    assert.equal(withAuth.code, 0, withAuth.stderr);
    assert.ok((JSON.parse(withAuth.stdout) as LsJson).nodes.some((n) => n.path === secret && n.serving));
    const config = writeConfig({
      server_name: 's',
      node_type: 'gate',
      node_host: '127.0.0.1',
      node_port: 1,
      worker_cnt: 1,
      zookeeper: { servers: zk.connectString, nodes: { root: ROOT }, auth: 'ops:pw' },
    });
    const viaConfig = await zkbio(['lookup', '--config', config, '--type', 'logic', 'k']);
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    assert.match(viaConfig.stdout, /^k {2}127\.0\.0\.1:4401\.[12]\n$/);
    const both = await zkbio(['ls', '--config', config, '--servers', zk.connectString]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --config or --servers/);
    assert.doesNotMatch(both.stderr + withAuth.stderr, /pw/, 'the password is never printed');
  } finally {
    await peer.remove(secret);
  }
});

test('zkbio watch outlives its session: frozen past the timeout, it opens a new one and reports what changed', async () => {
  const stays = await addPeer('x-stays', 4501);
  const leaves = await addPeer('x-leaves', 4502);
  const w = spawnZkbio(['watch', ...target(), '--type', 'logic', '--json']);
  try {
    const seen = (event: string, path: string) => () =>
      watchEvents(w).some((e) => e.event === event && (e.node as { path: string }).path === path);
    await eventually('both nodes', () => seen('added', stays)() && seen('added', leaves)(), 15_000);
    // Frozen, the watch cannot answer the server's pings: its session (10 s asked, at most 20 ticks of 500 ms
    // granted) expires, and meanwhile a node leaves and another joins.
    w.proc.kill('SIGSTOP');
    await peer.remove(leaves);
    const joins = await addPeer('x-joins', 4503);
    await new Promise((r) => setTimeout(r, 11_500));
    w.proc.kill('SIGCONT');
    await eventually(
      'the new session',
      () => w.stderr().includes('session expired; opening a new one'),
      15_000,
    );
    await eventually('the node that left meanwhile', seen('removed', leaves), 15_000);
    await eventually('the node that joined meanwhile', seen('added', joins), 15_000);
    assert.equal(
      watchEvents(w).filter((e) => e.event === 'added' && (e.node as { path: string }).path === stays).length,
      1,
      'no news for a node that stayed',
    );
    await peer.remove(joins);
    await eventually('and it keeps watching', seen('removed', joins));
  } finally {
    w.proc.kill('SIGCONT');
    w.proc.kill('SIGTERM');
    await peer.remove(stays);
  }
  assert.equal(await w.exited, 0, w.stderr());
});

test('ls, lookup and watch exit 1 naming the servers when ZooKeeper does not answer within --timeout', async () => {
  const port = await freePort(); // nothing listens there
  for (const args of [['ls'], ['lookup', '--type', 'logic', 'k'], ['watch']]) {
    const r = await zkbio([...args, '--servers', `127.0.0.1:${port}`, '--timeout', '1500']);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`no ZooKeeper server at 127\\.0\\.0\\.1:${port} answered`));
    assert.ok(r.ms < 10_000, `${args[0]} gave up after ${r.ms} ms`);
  }
});

test('zkbio zk start --port P prints the connect string, serves, and SIGTERM stops every JVM', async () => {
  const port = await freePort();
  const zkStart = spawnZkbio(['zk', 'start', '--port', String(port)]);
  const stdout = () => zkStart.stdout();
  try {
    await eventually('the connect string', () => stdout().includes('\n'), 40_000);
    assert.equal(stdout(), `127.0.0.1:${port}\n`);
    const client = await connectPeer(stdout().trim());
    client.close();
  } finally {
    zkStart.proc.kill('SIGTERM');
  }
  const stderr = zkStart.stderr();
  assert.equal(await zkStart.exited, 0, stderr);
  const pids = (/pids ([\d,]+)/.exec(stderr)?.[1] ?? '').split(',').map(Number);
  assert.ok(pids.length === 1 && pids[0] > 0, stderr);
  assert.throws(() => process.kill(pids[0], 0), /ESRCH/, 'the JVM is gone');
});
