// The main side of the subscriptions (src/discovery/subscriptions.ts): applying finished changes, no ZooKeeper.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SubscribedTypes } from '../../src/discovery/subscriptions.js';
import { createMetrics } from '../../src/metrics.js';
import { Nodes } from '../../src/nodes/table.js';
import { memberId, vnodePoints } from '../../src/nodes/vnodes.js';
import { newRecord } from '../../src/ring/codec.js';
import { Cmd } from '../../src/zk/commands.js';
import { nodeSetRecord } from '../../src/zk/node-change.js';
import { captureLog } from '../support/zk-client.js';

const ROOT = '/kimserver/nodes';

function setup(maxWarnedPaths?: number) {
  const nodes = new Nodes({ root: ROOT });
  const log = captureLog('warn');
  const types = new SubscribedTypes({
    nodes,
    metrics: createMetrics(),
    logger: log.logger,
    nodesRoot: ROOT,
    types: ['logic'],
    queue: () => assert.fail('no task expected'),
    later: () => {},
    maxWarnedPaths,
  });
  const bad = (path: string) => {
    const r = newRecord(Cmd.EV_NODE_BAD, path);
    r.errName = 'not_json';
    r.result = 'data is not JSON';
    assert.equal(types.apply(r), true);
  };
  const warnings = () => log.lines().filter((l) => l.msg === 'skipping bad peer data').length;
  return { nodes, types, bad, warnings };
}

test('the paths warned about are bounded: past the cap the oldest is forgotten', () => {
  const { types, bad, warnings } = setup(3);
  for (let i = 0; i < 5; i++) bad(`${ROOT}/logic/bad${i}`);
  assert.equal(types.warnedPaths, 3);
  assert.equal(warnings(), 5);
  bad(`${ROOT}/logic/bad4`); // still remembered: no second warning
  assert.equal(warnings(), 5);
  bad(`${ROOT}/logic/bad0`); // forgotten: warned again
  assert.equal(warnings(), 6);
  assert.equal(types.warnedPaths, 3);
});

test('EV_NODE_SET applies the node with the points the bio thread computed', () => {
  const { nodes, types } = setup();
  const node = {
    path: `${ROOT}/logic/a`,
    type: 'logic',
    host: '10.0.0.1',
    port: 4000,
    worker_cnt: 2,
    active_time: 1.5,
  };
  const points = new Uint32Array(400);
  for (let i = 1; i <= 2; i++) points.set(vnodePoints(memberId(node.host, node.port, i), 200), (i - 1) * 200);
  assert.equal(types.apply(nodeSetRecord(node, points)), true);
  assert.deepEqual(nodes.get(node.path), node);
  const computed = new Nodes({ root: ROOT });
  computed.upsert(node);
  for (const key of ['k1', 'k2', 'k3', 'user:42']) {
    assert.deepEqual(nodes.getNodeInHash('logic', key), computed.getNodeInHash('logic', key));
  }
  // Points of the wrong shape are refused, and the node counted as bad rather than served with wrong points.
  const wrong = nodeSetRecord({ ...node, path: `${ROOT}/logic/b`, port: 4001 }, new Uint32Array(6));
  types.apply(wrong);
  assert.equal(nodes.get(`${ROOT}/logic/b`), undefined);
  assert.equal(types.apply(newRecord(Cmd.EV_NODE_DEL, node.path)), true);
  assert.equal(nodes.get(node.path), undefined);
});
