// ZkClient's metrics against a real ZooKeeper: ring usage in bytes, the drain-slice histogram, the ack counts, and prom-client's
// default metrics on by default and off through config.json's metrics.default_metrics.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateMode } from 'node-zookeeper-client';
import { connectPeer, peerJson } from '../support/peer-client.js';
import { Clients, gateConfig } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

let zk: ZkHandle;
const clients = new Clients();

before(async () => {
  zk = await startZk({ local: true });
});
after(async () => {
  await clients.stopAll();
  await zk?.stop();
});

function sample(text: string, line: RegExp): number {
  const m = line.exec(text);
  assert.ok(m, `no sample matching ${line} in:\n${text}`);
  return Number(m[1]);
}

test('the drain-slice histogram counts slices, and default metrics are on by default', async () => {
  const client = await clients.start(gateConfig(zk.connectString, { server_name: 'm-default' }));
  const text = await client.metrics.render();
  assert.ok(sample(text, /^zkbio_drain_slice_duration_seconds_count (\d+)$/m) > 0, 'slices observed');
  assert.match(text, /^# TYPE zkbio_drain_slice_duration_seconds histogram$/m);
  assert.match(text, /^process_cpu_user_seconds_total /m);
  assert.match(text, /^nodejs_eventloop_lag_seconds /m);
});

test('zkbio_acks_total counts every ack once, as the drain latency does; zkbio_table_version is the table’s', {
  timeout: 60000,
}, async () => {
  // Peers registered before the client starts: its resync drains them in full slices (up to 100 acks each).
  const peers = 300;
  const peer = await connectPeer(zk.connectString);
  try {
    await peer.mkdirp('/kimserver/nodes/logic');
    await Promise.all(
      Array.from({ length: peers }, (_, i) =>
        peer.create(
          `/kimserver/nodes/logic/p${i}`,
          peerJson(`/kimserver/nodes/logic/p${i}`, 'logic', 4000 + i),
          CreateMode.EPHEMERAL,
        ),
      ),
    );
    const client = await clients.start(gateConfig(zk.connectString, { server_name: 'm-acks' }));
    const deadline = Date.now() + 20_000;
    while (client.nodes.list('logic').length < peers && Date.now() < deadline) await sleep(20);
    const text = await client.metrics.render();
    const counted = [...text.matchAll(/^zkbio_acks_total\{cmd="([A-Z_]+)"\} (\d+)$/gm)];
    const count = (cmd: string) => Number(counted.find((m) => m[1] === cmd)?.[2] ?? 0);
    assert.ok(count('EV_NODE_SET') >= peers, `every peer's ack counted: ${count('EV_NODE_SET')}`);
    const total = counted.reduce((n, m) => n + Number(m[2]), 0);
    assert.equal(total, sample(text, /^zkbio_ack_drain_latency_seconds_count (\d+)$/m), 'one count per ack');
    assert.equal(sample(text, /^zkbio_table_version (\d+)$/m), client.nodes.version);
  } finally {
    peer.close();
  }
});

test('metrics.default_metrics: false leaves only zkbio_ metrics', async () => {
  const client = await clients.start(
    gateConfig(zk.connectString, { server_name: 'm-off', metrics: { default_metrics: false } }),
  );
  const names = (await client.metrics.render()).split('\n').filter((l) => l.startsWith('# TYPE '));
  assert.ok(names.length > 0);
  for (const line of names) assert.match(line, /^# TYPE zkbio_/);
});

test('zkbio_ring_used_bytes counts bytes: tasks queued behind one stuck on a frozen server', async (t) => {
  const own = await startZk({ local: true });
  t.after(() => own.stop());
  const client = await clients.start(
    gateConfig(own.connectString, { server_name: 'm-ring' }, { payload_interval: 100 }),
  );
  // The server stops answering: the first payload write waits in the bio thread, the next ones in the ring.
  await own.server(1).kill('SIGSTOP');
  try {
    for (let i = 0; i < 8; i++) {
      client.setPayload({ i, pad: 'x'.repeat(200) });
      await sleep(60);
    }
    client.refreshQueueMetrics();
    const text = await client.metrics.render();
    const used = sample(text, /^zkbio_ring_used_bytes\{ring="task"\} (\d+)$/m);
    // Each waiting SET_DATA record carries a 200-byte payload: two of them are over 400 bytes, not "2".
    assert.ok(used >= 400, `task ring used ${used} bytes`);
    const capacity = sample(text, /^zkbio_ring_capacity_bytes\{ring="task"\} (\d+)$/m);
    assert.ok(used < capacity);
  } finally {
    await own.server(1).kill('SIGCONT');
  }
});
