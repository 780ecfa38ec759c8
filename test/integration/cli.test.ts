// `zkbio node` as a user runs it: a real process with cluster workers, a real ZooKeeper, an independent client
// playing the peers, and the HTTP status endpoints as the only window into the node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CreateMode } from 'node-zookeeper-client';
import { Nodes } from '../../src/nodes/table.js';
import { type CliNode, startCliNode, writeConfig } from '../support/cli-node.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

let zk: ZkHandle;
let peer: PeerClient;
const nodes: CliNode[] = [];

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop(3000)));
  peer?.close();
  await zk?.stop();
});

function config(serverName: string, zookeeper: Record<string, unknown> = {}) {
  return {
    server_name: serverName,
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 3,
    zookeeper: {
      servers: zk.connectString,
      session_timeout: 2000,
      nodes: { root: '/kimserver/nodes', subscribe_node_type: ['logic'] },
      payload: { root: '/kimserver/payload' },
      log_level: 'info',
      ...zookeeper,
    },
  };
}

async function start(cfg: unknown, args: string[] = []): Promise<CliNode> {
  const node = await startCliNode(writeConfig(cfg), args);
  nodes.push(node);
  await eventually(
    'node healthy',
    async () => {
      try {
        return (await node.get('/healthz')).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
  );
  return node;
}

interface Lookup {
  id: string;
  port: number;
  served_by: number;
}
interface NodesReply {
  self: string | null;
  state: string;
  nodes: { path: string }[];
}

/** GETs `path` on fresh connections until `count` distinct processes answered; returns one reply per pid. */
async function fromEveryProcess(node: CliNode, path: string, count: number): Promise<Map<number, Lookup>> {
  const byPid = new Map<number, Lookup>();
  for (let i = 0; i < 200 && byPid.size < count; i++) {
    const r = await node.get(`/lookup?type=logic&key=${encodeURIComponent(path)}`);
    if (r.status === 200) byPid.set(r.json<Lookup>().served_by, r.json<Lookup>());
  }
  return byPid;
}

test('a bad config exits 2 and names the field, before anything starts', () => {
  const bin = fileURLToPath(new URL('../../../bin/zkbio.js', import.meta.url));
  const file = writeConfig({ ...config('bad'), worker_cnt: 'three' });
  const r = spawnSync(process.execPath, [bin, 'node', '--config', file], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /worker_cnt/);
  const missing = spawnSync(process.execPath, [bin, 'node'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--config is required/);
});

test("3 workers answer every lookup as kimserver's ring would, also after one is killed; SIGTERM exits 0", async () => {
  await peer.mkdirp('/kimserver/nodes/logic');
  const peers: string[] = [];
  for (let i = 0; i < 4; i++) {
    const p = await peer.create(
      '/kimserver/nodes/logic/kim-logic',
      peerJson('', 'logic', 3400 + i, 1 + i),
      CreateMode.EPHEMERAL_SEQUENTIAL,
    );
    peers.push(p);
  }
  const node = await start(config('cli3'));
  const nodesReply = (await node.get('/nodes')).json<NodesReply>();
  assert.match(nodesReply.self ?? '', /^\/kimserver\/nodes\/gate\/cli3-gate\d{10}$/);
  assert.equal(nodesReply.state, 'CONNECTED');

  // The expected answers: a table built here from ZooKeeper's truth, in the order the peers were created.
  const expected = new Nodes();
  for (const p of peers) {
    const { data } = await peer.get(p);
    assert.ok(expected.addZkNode({ ...JSON.parse(data), path: p }));
  }
  const keys = ['1', '42', 'user-7', 'éclair', '100000', 'k9'];
  const check = async () => {
    for (const key of keys) {
      const want = expected.getNodeInHash('logic', key);
      await eventually(
        `every worker agrees on ${key}`,
        async () => {
          const answers = await fromEveryProcess(node, key, 3);
          return (
            answers.size === 3 &&
            [...answers.values()].every((a) => a.id === want?.id && a.port === want?.port)
          );
        },
        15_000,
      );
    }
  };
  await eventually(
    "4 peers in the workers' tables",
    async () => (await node.get('/nodes')).json<NodesReply>().nodes.length === 4,
  );
  await check();

  // A peer leaves: every worker moves its keys.
  await peer.remove(peers[1]);
  expected.delZkNode(peers[1]);
  await eventually(
    'peer gone everywhere',
    async () => (await node.get('/nodes')).json<NodesReply>().nodes.length === 3,
  );
  await check();

  // Kill one worker: it is forked again and answers from a fresh snapshot.
  const pids = [...(await fromEveryProcess(node, 'x', 3)).keys()];
  process.kill(pids[0], 'SIGKILL');
  await sleep(200);
  await check();
  const after = [...(await fromEveryProcess(node, 'x', 3)).keys()];
  assert.ok(!after.includes(pids[0]), 'the killed worker no longer answers');

  const metrics = await node.get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /zkbio_session_state\{state="CONNECTED"\} 1/);
  assert.match(metrics.body, /zkbio_ack_drain_latency_seconds_bucket/);
  const notFound = await node.get('/lookup?type=nosuch&key=1');
  assert.equal(notFound.status, 404);

  const self = nodesReply.self as string;
  assert.equal(await node.stop(), 0);
  assert.equal(await peer.exists(self), null, 'a graceful stop removes the node at once');
  for (const p of [peers[0], ...peers.slice(2)]) await peer.remove(p);
});

test('a node frozen past its session timeout expires, registers again once, and resyncs', async () => {
  const node = await start(config('frozen'), ['--workers', '0']);
  const first = (await node.get('/nodes')).json<NodesReply>().self as string;
  await peer.mkdirp('/kimserver/nodes/logic');
  const before = await peer.create(
    '/kimserver/nodes/logic/pre-logic',
    peerJson('', 'logic', 3500),
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
  await eventually('peer seen', async () => (await node.get('/nodes')).json<NodesReply>().nodes.length === 1);

  node.proc.kill('SIGSTOP');
  // The server expires the session after its timeout (2 s asked; the server grants at most 20 ticks of 500 ms).
  await eventually(
    'the old registration is gone from ZooKeeper',
    async () => (await peer.exists(first)) === null,
    15_000,
  );
  await peer.remove(before);
  const during = await peer.create(
    '/kimserver/nodes/logic/mid-logic',
    peerJson('', 'logic', 3501),
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
  node.proc.kill('SIGCONT');

  await eventually(
    're-registered and healthy',
    async () => {
      const r = (await node.get('/nodes')).json<NodesReply>();
      return r.state === 'CONNECTED' && r.self !== null && r.self !== first;
    },
    20_000,
  );
  await eventually("the table resynced to ZooKeeper's truth", async () => {
    const paths = (await node.get('/nodes')).json<NodesReply>().nodes.map((n) => n.path);
    return paths.length === 1 && paths[0] === during;
  });
  const reply = (await node.get('/nodes')).json<NodesReply>();
  const mine = (await peer.children('/kimserver/nodes/gate')).filter((n) => n.startsWith('frozen-gate'));
  assert.equal(mine.length, 1, `exactly one registration, got ${mine.join(', ')}`);
  assert.equal(`/kimserver/nodes/gate/${mine[0]}`, reply.self);
  assert.ok(node.output.some((l) => l.includes('session expired')));
  assert.equal(await node.stop(), 0);
  await peer.remove(during);
});
