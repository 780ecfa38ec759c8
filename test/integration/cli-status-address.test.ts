// `zkbio node --status` on an address that cannot be bound: a message naming the address and exit 2, before
// anything starts. It used to be an uncaught exception in every cluster worker, re-forked every 500 ms forever.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, runZkbio, writeConfig } from '../support/cli-node.js';

// Nothing listens on the ZooKeeper port: the node must fail on its status address alone.
const CONFIG = writeConfig({
  server_name: 'status-test',
  node_type: 'gate',
  node_host: '127.0.0.1',
  node_port: 3355,
  worker_cnt: 2,
  zookeeper: { servers: '127.0.0.1:1', log_level: 'warn' },
});

/** Runs `zkbio node`; SIGKILL after 15 s (the old endless re-fork loop). */
const runNode = (args: string[]) => runZkbio(['node', '--config', CONFIG, ...args], 15_000);

for (const workers of ['2', '0']) {
  test(`an address in use: exit 2 naming it (--workers ${workers})`, async (t) => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    t.after(() => taken.close());
    const { port } = taken.address() as { port: number };
    const r = await runNode(['--status', `127.0.0.1:${port}`, '--workers', workers]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot serve --status on 127\\.0\\.0\\.1:${port}: the address is in use`),
    );
  });
}

test('an address that is not on this host: exit 2 naming it', async () => {
  const port = await freePort();
  // TEST-NET-1 (RFC 5737): never assigned to a local interface.
  const r = await runNode(['--status', `192.0.2.1:${port}`]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`cannot serve --status on 192\\.0\\.2\\.1:${port}: the address is not one of this host`),
  );
});
