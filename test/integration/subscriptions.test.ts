// The bio thread's subscriptions (src/zk/subscriptions.ts) through the real ZooKeeper handler, run in this
// process so that a test can force the interleavings that decide the defects: it wraps ZkSession's calls and
// lets an independent client change ZooKeeper between a call and its result. ZooKeeper itself is real.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { CreateMode } from 'node-zookeeper-client';
import pino from 'pino';
import { SubscribedTypes } from '../../src/discovery/subscriptions.js';
import { ZkClient } from '../../src/discovery/zk_client.js';
import { createMetrics } from '../../src/metrics.js';
import { Nodes } from '../../src/nodes/table.js';
import { type BioRecord, newRecord } from '../../src/ring/codec.js';
import { Cmd } from '../../src/zk/commands.js';
import { ZkError, ZUNIMPLEMENTED } from '../../src/zk/errors.js';
import createZkHandler from '../../src/zk/handler.js';
import { ZkSession } from '../../src/zk/session.js';
import { READ_WINDOW, READ_WINDOW_BYTES } from '../../src/zk/subscriptions.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { Clients, gateConfig, handlerOptions } from '../support/zk-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

let zk: ZkHandle;
let peer: PeerClient;
const silent = pino({ level: 'silent' });
const originals = {
  get: ZkSession.prototype.get,
  getChildren: ZkSession.prototype.getChildren,
  exists: ZkSession.prototype.exists,
  addPersistentWatch: ZkSession.prototype.addPersistentWatch,
};

before(async () => {
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
});

afterEach(() => Object.assign(ZkSession.prototype, originals));

after(async () => {
  peer?.close();
  await zk?.stop();
});

/** A node config that follows only `${root}/logic`. */
const logicConfig = (root: string) =>
  gateConfig(zk.connectString, {}, { nodes: { root, subscribe_node_type: ['logic'] } });

/** A persistent logic peer at `path`. */
const persistentPeer = (path: string, port: number) =>
  peer.create(path, peerJson(path, 'logic', port), CreateMode.PERSISTENT);

/** Creates `${root}/logic`; returns its path. */
async function logicFolder(root: string): Promise<string> {
  await peer.mkdirp(`${root}/logic`);
  return `${root}/logic`;
}

/** The handler with its records applied, in order, by the main side's SubscribedTypes to a table. */
async function rig(root: string, type: string, persistent = true) {
  const records: BioRecord[] = [];
  const options = handlerOptions(zk.connectString, 4000, persistent);
  const handler = await createZkHandler({
    options,
    emit: (r) => records.push(r),
    isStopping: () => false,
    logger: silent,
  });
  const nodes = new Nodes({ root });
  const types = new SubscribedTypes({
    nodes,
    metrics: createMetrics(),
    logger: silent,
    nodesRoot: root,
    types: [type],
    queue: () => assert.fail('no task is queued in this rig'),
    later: () => {},
  });
  let nextId = 1;
  const run = async (cmd: number, path: string, value = ''): Promise<BioRecord> => {
    const task = newRecord(cmd, path, value);
    task.id = nextId++;
    await handler.processCmd(task);
    return task;
  };
  assert.equal((await run(Cmd.CONNECT, '')).error, 0);
  return {
    records,
    nodes,
    run,
    /** Applies every record so far to the table, as the main side would. */
    apply() {
      for (const r of records.splice(0)) if (r.id === 0) types.apply(r);
    },
    close: () => handler.close(),
  };
}

for (const mode of ['persistent', 'one-shot'] as const) {
  test(`data read before a deletion never re-adds the deleted node (${mode} watches)`, async () => {
    const root = `/order-${mode}/nodes`;
    const folder = await logicFolder(root);
    const doomed = `${folder}/doomed-logic`;
    await persistentPeer(doomed, 4100);
    const r = await rig(root, 'logic', mode === 'persistent');
    try {
      // The read of `doomed` has its answer; before the recipe sees it, the node is deleted and the deletion's
      // watch event reaches this session (a round trip on the same session comes after it).
      ZkSession.prototype.get = async function (this: ZkSession, path: string, watch?: boolean) {
        const result = await originals.get.call(this, path, watch);
        if (path === doomed) {
          await peer.remove(doomed);
          await originals.exists.call(this, folder);
        }
        return result;
      };
      const ack = await r.run(Cmd.SUBSCRIBE, folder, 'logic');
      assert.equal(ack.error, 0, ack.result);
      await eventually('the deletion reported', () => r.records.some((x) => x.cmd === Cmd.EV_NODE_DEL));
      r.apply();
      assert.equal(r.nodes.get(doomed), undefined, 'the deleted node is not in the table');
    } finally {
      await r.close();
    }
  });

  test(`a folder that flaps never yields a successful listing with no children and no watch (${mode} watches)`, async () => {
    const root = `/flap-${mode}/nodes`;
    const folder = await logicFolder(root);
    const r = await rig(root, 'logic', mode === 'persistent');
    let flaps = 20;
    try {
      // Every listing finds the folder gone and every exists call finds it back: it is deleted and created again
      // between the two calls, each time.
      ZkSession.prototype.getChildren = async function (this: ZkSession, path: string, watch?: boolean) {
        if (path === folder && flaps > 0) await peer.remove(folder).catch(() => {});
        return originals.getChildren.call(this, path, watch);
      };
      ZkSession.prototype.exists = async function (this: ZkSession, path: string, watch?: boolean) {
        if (path === folder && flaps-- > 0) await peer.mkdirp(folder);
        return originals.exists.call(this, path, watch);
      };
      const ack = await r.run(Cmd.SUBSCRIBE, folder, 'logic');
      assert.notEqual(ack.error, 0, `a flapping folder was listed as ${JSON.stringify(ack.values)}`);
      assert.match(ack.result, /deleted and created again/);

      // Once it stops, the resync the main side sends after that failure lists it with a watch.
      flaps = 0;
      await peer.mkdirp(folder);
      assert.equal((await r.run(Cmd.SUBSCRIBE, folder, 'logic')).error, 0);
      const child = `${folder}/late-logic`;
      await persistentPeer(child, 4200);
      await eventually('a child created later is reported', () => {
        r.apply();
        return r.nodes.get(child)?.port === 4200;
      });
    } finally {
      flaps = 0;
      await r.close();
    }
  });
}

/** Counts the calls that arm a one-shot watch (watch = true), by call. */
function spyOnWatches(): Record<string, number> {
  const armed: Record<string, number> = { get: 0, getChildren: 0, exists: 0 };
  for (const name of ['get', 'getChildren', 'exists'] as const) {
    const original = originals[name] as (this: ZkSession, path: string, watch?: boolean) => Promise<unknown>;
    (ZkSession.prototype as unknown as Record<string, unknown>)[name] = function (
      this: ZkSession,
      path: string,
      watch?: boolean,
    ) {
      if (watch) armed[name]++;
      return original.call(this, path, watch);
    };
  }
  return armed;
}

/** Joins, a change, a leave, and the folder deleted and created again: each reaches the table. */
async function followsChanges(r: Awaited<ReturnType<typeof rig>>, folder: string): Promise<void> {
  const inTable = (what: string, cond: () => boolean) =>
    eventually(what, () => {
      r.apply();
      return cond();
    });
  const a = `${folder}/a-logic`;
  await persistentPeer(a, 4500);
  await inTable('a join', () => r.nodes.get(a)?.port === 4500);
  await peer.set(a, peerJson(a, 'logic', 4501));
  await inTable('a change', () => r.nodes.get(a)?.port === 4501);
  await peer.remove(a);
  await inTable('a leave', () => r.nodes.get(a) === undefined);
  await peer.remove(folder);
  await peer.mkdirp(folder);
  const b = `${folder}/b-logic`;
  await persistentPeer(b, 4502);
  await inTable('a join into the folder created again', () => r.nodes.get(b)?.port === 4502);
}

test('persistent watches: one per folder follows every change, and no one-shot watch is armed', async () => {
  const root = '/persistent/nodes';
  const folder = await logicFolder(root);
  const r = await rig(root, 'logic', true);
  try {
    const armed = spyOnWatches();
    assert.equal((await r.run(Cmd.SUBSCRIBE, folder, 'logic')).error, 0);
    await followsChanges(r, folder);
    assert.deepEqual(armed, { get: 0, getChildren: 0, exists: 0 });
  } finally {
    await r.close();
  }
});

test('a server without addWatch (before 3.6): the folder falls back to one-shot watches', async () => {
  const root = '/fallback/nodes';
  const folder = await logicFolder(root);
  const r = await rig(root, 'logic', true);
  try {
    // What a 3.5 server answers to opcode 106; this server has addWatch, so the answer is stood in for here.
    let refused = 0;
    ZkSession.prototype.addPersistentWatch = async () => {
      refused++;
      throw new ZkError(ZUNIMPLEMENTED, 'addWatch: unimplemented');
    };
    const armed = spyOnWatches();
    assert.equal((await r.run(Cmd.SUBSCRIBE, folder, 'logic')).error, 0);
    await followsChanges(r, folder);
    assert.equal(refused, 1, 'asked once, then one-shot for good');
    assert.ok(armed.getChildren > 0 && armed.get > 0, `one-shot watches armed: ${JSON.stringify(armed)}`);
  } finally {
    await r.close();
  }
});

/** Wraps ZkSession.get to count the reads in flight at once; returns the highest count seen so far. */
function countReadsInFlight(): { max: number } {
  const seen = { max: 0 };
  let now = 0;
  ZkSession.prototype.get = async function (this: ZkSession, path: string, watch?: boolean) {
    seen.max = Math.max(seen.max, ++now);
    try {
      return await originals.get.call(this, path, watch);
    } finally {
      now--;
    }
  };
  return seen;
}

for (const mode of ['persistent', 'one-shot'] as const) {
  test(`reads are pipelined within a window of ${READ_WINDOW}, on a resync and on a burst of joins (${mode} watches)`, async () => {
    const root = `/window-${mode}/nodes`;
    const folder = await logicFolder(root);
    const count = 3 * READ_WINDOW;
    const names = Array.from({ length: count }, (_, i) => `${folder}/p${i}-logic`);
    await Promise.all(names.slice(0, count / 2).map((p, i) => persistentPeer(p, 5000 + i)));
    const r = await rig(root, 'logic', mode === 'persistent');
    try {
      const reads = countReadsInFlight();
      assert.equal((await r.run(Cmd.SUBSCRIBE, folder, 'logic')).error, 0);
      r.apply();
      assert.equal(r.nodes.size, count / 2, 'the resync read every child');
      assert.equal(reads.max, READ_WINDOW, 'resync: a full window of reads in flight, never more');
      reads.max = 0;
      await Promise.all(names.slice(count / 2).map((p, i) => persistentPeer(p, 6000 + i)));
      await eventually('every join in the table', () => {
        r.apply();
        return r.nodes.size === count;
      });
      assert.ok(reads.max <= READ_WINDOW, `burst: ${reads.max} reads in flight at once`);
    } finally {
      await r.close();
    }
  });
}

test('large peer data narrows the read window to its byte bound', async () => {
  const root = '/window-large/nodes';
  const folder = await logicFolder(root);
  const padBytes = 32 * 1024;
  const count = 120;
  const created = [];
  for (let i = 0; i < count; i++) {
    const path = `${folder}/big${i}-logic`;
    const data = JSON.stringify({
      ...JSON.parse(peerJson(path, 'logic', 7000 + i)),
      pad: 'x'.repeat(padBytes),
    });
    created.push(peer.create(path, data, CreateMode.PERSISTENT));
  }
  await Promise.all(created);
  const r = await rig(root, 'logic');
  try {
    const reads = countReadsInFlight();
    assert.equal((await r.run(Cmd.SUBSCRIBE, folder, 'logic')).error, 0);
    r.apply();
    assert.equal(r.nodes.size, count, 'the resync read every child');
    // About 1 MiB of replies in flight, under 32 of these, where a window by count alone held all 120 (3.8 MiB).
    const bound = Math.floor(READ_WINDOW_BYTES / padBytes);
    assert.ok(
      reads.max < bound,
      `${reads.max} reads of ${padBytes} bytes in flight at once (bound ${bound})`,
    );
  } finally {
    await r.close();
  }
});

// ZkClient end to end (the bio thread in its worker): what the main side does with the finished changes.

test("a user's event listener that throws never aborts the table update or the other listeners", async () => {
  const clients = new Clients();
  const root = '/throws/nodes';
  const folder = await logicFolder(root);
  const first = `${folder}/first-logic`;
  await persistentPeer(first, 4300);
  try {
    const client = await clients.start(logicConfig(root));
    await eventually('the first peer arrives', () => client.nodes.get(first) !== undefined);
    client.on('removed', () => {
      throw new Error('a listener that throws on removed');
    });
    const seen = { removed: [] as string[], added: [] as string[] };
    client.on('removed', (n) => seen.removed.push(n.path));
    client.on('added', (n) => seen.added.push(n.path));

    // The same server registers again under a new path (newer active_time): one table change that removes the
    // old path and adds the new one. The listener that throws on the removal must not cost the others theirs.
    const again = `${folder}/again-logic`;
    await persistentPeer(again, 4300);
    await eventually('the new path serves', () => client.nodes.list('logic').some((n) => n.path === again));
    await eventually('every other listener saw the change', () => seen.added.includes(again));
    assert.deepEqual(seen.removed, [first]);

    // One change of the folder that a listing sees whole: a peer leaves and two join.
    const joined = [`${folder}/a-logic`, `${folder}/b-logic`];
    await new Promise<void>((resolve, reject) =>
      peer.client
        .transaction()
        .remove(again)
        .create(joined[0], Buffer.from(peerJson(joined[0], 'logic', 4301)))
        .create(joined[1], Buffer.from(peerJson(joined[1], 'logic', 4302)))
        .commit((err) => (err ? reject(err) : resolve())),
    );
    await eventually('both joiners in the table', () =>
      joined.every((p) => client.nodes.get(p) !== undefined),
    );
    await eventually('the leaver removed', () => seen.removed.includes(again));
    const metrics = await client.metrics.render();
    assert.match(metrics, /zkbio_listener_errors_total\{event="removed"\} 2\b/);
  } finally {
    await clients.stopAll();
  }
});

test("a 'state' or 'registered' listener that throws never stops the registration or the resync", async () => {
  const root = '/throws-state/nodes';
  const folder = await logicFolder(root);
  const present = `${folder}/present-logic`;
  await persistentPeer(present, 4400);
  const config = logicConfig(root);
  const client = new ZkClient(config, { logger: pino({ level: 'silent' }) });
  client.on('state', () => {
    throw new Error('a listener that throws on state');
  });
  client.on('registered', () => {
    throw new Error('a listener that throws on registered');
  });
  await client.start();
  try {
    await client.ready(10_000);
    assert.ok(client.nodes.get(present), 'the type was resynced');
    const metrics = await client.metrics.render();
    assert.match(metrics, /zkbio_listener_errors_total\{event="state"\} [1-9]/);
    assert.match(metrics, /zkbio_listener_errors_total\{event="registered"\} 1\b/);
  } finally {
    await client.stop();
  }
});

test('the set of paths warned about for bad data is bounded: a path that goes is forgotten', async () => {
  const clients = new Clients();
  const root = '/warned/nodes';
  const folder = await logicFolder(root);
  try {
    const client = await clients.start(logicConfig(root));
    const bad = await Promise.all(
      Array.from({ length: 30 }, () => peer.create(`${folder}/bad-logic`, 'not json {')),
    );
    await eventually('every bad node counted', async () =>
      /zkbio_bad_peer_data_total\{reason="not_json"\} 30\b/.test(await client.metrics.render()),
    );
    const warned = () => (client as unknown as { subscriptions: { warnedPaths: number } }).subscriptions;
    assert.equal(warned().warnedPaths, 30);
    await Promise.all(bad.map((p) => peer.remove(p)));
    await eventually('the gone paths forgotten', () => warned().warnedPaths === 0);
  } finally {
    await clients.stopAll();
  }
});

for (const mode of ['persistent', 'one-shot'] as const) {
  test(`a peer that registers the kimserver way (empty, then its JSON) is no bad data; emptied later it is (${mode} watches)`, async () => {
    const root = `/kimjoin-${mode}/nodes`;
    const folder = await logicFolder(root);
    const r = await rig(root, 'logic', mode === 'persistent');
    const seen: BioRecord[] = [];
    const apply = () => {
      seen.push(...r.records);
      r.apply();
    };
    const badReasons = () => seen.filter((x) => x.cmd === Cmd.EV_NODE_BAD).map((x) => x.errName);
    try {
      assert.equal((await r.run(Cmd.SUBSCRIBE, folder, 'logic')).error, 0);
      const path = await peer.create(`${folder}/kim-logic`, '', CreateMode.EPHEMERAL_SEQUENTIAL);
      // The bio thread reads the empty node before the JSON lands, as on a real join over a real link.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await peer.set(path, peerJson(path, 'logic', 4200));
      await eventually('the node serves', () => {
        apply();
        return r.nodes.get(path) !== undefined;
      });
      assert.deepEqual(badReasons(), [], 'no bad data reported on the join');
      await peer.set(path, '');
      await eventually('emptied data reported bad', () => {
        apply();
        return badReasons().includes('empty');
      });
      assert.equal(r.nodes.get(path), undefined, 'an emptied node no longer serves');
    } finally {
      await r.close();
    }
  });
}
