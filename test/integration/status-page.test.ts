// The status page as a person sees it: `zkbio node` with cluster workers against a real ZooKeeper, peers
// played by an independent client, and the page loaded in a real headless Chromium. The assertions read what
// is on the screen; screenshots go to artifacts/ (gitignored) for a person to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CreateMode } from 'node-zookeeper-client';
import { Nodes } from '../../src/nodes/table.js';
import { type Browser, launchBrowser, type Page } from '../support/browser.js';
import { type CliNode, startCliNode, writeConfig } from '../support/cli-node.js';
import { connectPeer, eventually, type PeerClient, peerJson } from '../support/peer-client.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/', import.meta.url));
const FOLDER = '/kimserver/nodes/logic';

let zk: ZkHandle;
let peer: PeerClient;
let node: CliNode;
let browser: Browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  zk = await startZk({ local: true });
  peer = await connectPeer(zk.connectString);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await node?.stop(3000);
  peer?.close();
  await zk?.stop();
});

async function startNode(): Promise<CliNode> {
  const cfg = {
    server_name: 'page',
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 2,
    zookeeper: {
      servers: zk.connectString,
      session_timeout: 4000,
      nodes: { root: '/kimserver/nodes', subscribe_node_type: ['logic', 'cache'] },
      payload: { root: '/kimserver/payload' },
      log_level: 'warn',
    },
  };
  const n = await startCliNode(writeConfig(cfg));
  await eventually(
    'node healthy',
    async () => {
      try {
        return (await n.get('/healthz')).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
  );
  return n;
}

/** The texts of every element matching `selector`. */
const texts = (page: Page, selector: string) =>
  page.eval<string[]>(
    `Array.from(document.querySelectorAll(${JSON.stringify(selector)}), (e) => e.textContent.trim())`,
  );

const NODE_CELLS = 'section.type[data-type="logic"] table.nodes tbody tr td:first-child';

test('the status page shows the table, the ring shares, bad peer data and the drain, and answers a lookup', async () => {
  await peer.mkdirp(FOLDER);
  const peers: string[] = [];
  for (const [port, workers] of [
    [3400, 2],
    [3401, 3],
    [3402, 1],
  ] as const)
    peers.push(await peer.create(`${FOLDER}/kim-logic`, peerJson('', 'logic', port, workers)));
  const bad = await peer.create(
    `${FOLDER}/kim-logic`,
    '{"host": "127.0.0.1", "port":',
    CreateMode.EPHEMERAL_SEQUENTIAL,
  );
  node = await startNode();

  const page = await browser.newPage(1280, 800);
  await page.goto(`http://127.0.0.1:${node.port}/`);
  await page.eval('window.zkbioTestMarker = 1');

  // The nodes, as host:port rows of the logic type.
  await page.waitFor(
    'three logic nodes listed',
    `document.querySelectorAll(${JSON.stringify(NODE_CELLS)}).length === 3`,
  );
  assert.deepEqual((await texts(page, NODE_CELLS)).sort(), [
    '127.0.0.1:3400',
    '127.0.0.1:3401',
    '127.0.0.1:3402',
  ]);
  assert.deepEqual(
    await texts(page, 'section.type[data-type="logic"] table.nodes tbody tr td:nth-child(2)'),
    ['2', '3', '1'],
  );
  // A subscribed type with no node is shown as such.
  assert.match((await texts(page, 'section.type[data-type="cache"]'))[0], /No node of this type serves/);

  // The session, the own node and which process answered.
  assert.equal((await texts(page, '#state'))[0], 'CONNECTED');
  assert.match((await texts(page, '#s-self'))[0], /^\/kimserver\/nodes\/gate\/page-gate\d{10}$/);
  const answered = (await texts(page, '#pid'))[0];
  const pid = Number(/^pid (\d+) \(worker \d+\)$/.exec(answered)?.[1]);
  assert.ok(pid > 0 && pid !== node.proc.pid, `a cluster worker answered, not the primary: ${answered}`);
  assert.match((await texts(page, '#changed'))[0], /^\d+ s ago$/);

  // The bad peer, apart from the nodes, with its reason.
  await page.waitFor(
    'the bad peer listed',
    `document.querySelector('section.type[data-type="logic"] .bad-list')`,
  );
  const badRows = await texts(page, 'section.type[data-type="logic"] .bad-list tbody tr');
  assert.equal(badRows.length, 1);
  assert.ok(badRows[0].startsWith(bad.slice(bad.lastIndexOf('/') + 1)), badRows[0]);
  assert.match(badRows[0], /not_json: data is not JSON/);

  // Ring shares: one bar per member (2 + 3 + 1), and the percentages shown sum to 100%.
  const pcts = await texts(page, '.ring[data-type="logic"] text.pct');
  assert.equal(pcts.length, 6);
  const sum = pcts.reduce((a, p) => a + Number.parseFloat(p), 0);
  assert.ok(Math.abs(sum - 100) < 0.01 * pcts.length, `shares shown sum to ${sum}%`);
  assert.match((await texts(page, '.ring[data-type="logic"] .share-sum'))[0], /shares sum to 100\.00%/);
  const serverShares = await texts(
    page,
    'section.type[data-type="logic"] table.nodes tbody tr td:nth-child(5)',
  );
  const serverSum = serverShares.reduce((a, p) => a + Number.parseFloat(p), 0);
  assert.ok(Math.abs(serverSum - 100) < 0.02, `server shares sum to ${serverSum}%`);

  // The drain histogram and the queue depths are drawn, from the primary's metrics.
  assert.match((await texts(page, '#drain-stats'))[0], /^[\d,]+ acks drained/);
  assert.ok((await page.eval<number>(`document.querySelectorAll('#drain-chart rect').length`)) >= 10);
  assert.deepEqual(await texts(page, '#queues tbody td:first-child'), ['task ring', 'ack ring']);

  // A lookup, typed and clicked as a person would, answered as ZooKeeper's truth says.
  const expected = new Nodes();
  for (const p of peers) assert.ok(expected.addZkNode({ ...JSON.parse((await peer.get(p)).data), path: p }));
  const want = expected.getNodeInHash('logic', 'user:42');
  assert.ok(want);
  await page.type('#lookup-key', 'user:42');
  await page.click('#lookup-form button');
  await page.waitFor('the lookup answered', `document.querySelector('.lookup-target')`);
  assert.equal((await texts(page, '.lookup-target'))[0], `${want.host}:${want.port}`);
  const answer = await texts(page, '#lookup-result div');
  assert.equal(answer[0], `key "user:42" goes to ${want.host}:${want.port}, worker ${want.workerIndex}`);
  assert.match(
    answer[1],
    new RegExp(`^ring member ${want.id.replaceAll('.', '\\.')}, table v\\d+, answered by pid \\d+$`),
  );

  await page.screenshot(`${ARTIFACTS}status-page-1280x800.png`);

  // Polling every second keeps the page the same size while nothing changes.
  const elements = () => page.eval<number>(`document.getElementsByTagName('*').length`);
  const before = await elements();
  await sleep(2500);
  assert.equal(await elements(), before, 'no growth in the page between polls');

  // A peer joins, and the bad peer turns good: both show up without a reload.
  const drained = () =>
    texts(page, '#drain-stats').then((t) => Number.parseInt(t[0].replaceAll(',', ''), 10));
  const drainedBefore = await drained();
  await peer.create(`${FOLDER}/kim-logic`, peerJson('', 'logic', 3403, 2));
  await peer.set(bad, peerJson(bad, 'logic', 3404, 1));
  await page.waitFor(
    'the new peers listed',
    `document.querySelectorAll(${JSON.stringify(NODE_CELLS)}).length === 5`,
    15_000,
  );
  assert.deepEqual((await texts(page, NODE_CELLS)).sort(), [
    '127.0.0.1:3400',
    '127.0.0.1:3401',
    '127.0.0.1:3402',
    '127.0.0.1:3403',
    '127.0.0.1:3404',
  ]);
  await page.waitFor(
    'the bad peer gone',
    `!document.querySelector('section.type[data-type="logic"] .bad-list')`,
  );
  assert.equal(await page.eval('window.zkbioTestMarker'), 1, 'the page was not reloaded');
  assert.equal((await texts(page, '.ring[data-type="logic"] text.pct')).length, 9);
  assert.match(
    (await texts(page, '.ring[data-type="logic"] .share-sum'))[0],
    /^9 members; shares sum to 100\.00%/,
  );

  // The drain figures moved with the acks those changes brought, also without a reload.
  await page.waitFor(
    'more acks drained',
    `Number.parseInt(document.querySelector('#drain-stats').textContent.replaceAll(',', ''), 10) > ${drainedBefore}`,
  );

  // A narrow window: nothing wider than the screen, the nodes still readable.
  await page.setViewport(420, 900);
  await page.waitFor(
    'the ring redrawn narrow',
    `document.querySelector('.ring svg').getAttribute('width') <= 420`,
  );
  const wide = await page.eval<number>('document.documentElement.scrollWidth');
  assert.ok(wide <= 420, `the page is ${wide}px wide in a 420px window`);
  assert.equal((await texts(page, NODE_CELLS)).length, 5);
  await page.screenshot(`${ARTIFACTS}status-page-narrow.png`, { fullPage: true });

  assert.deepEqual(page.errors, [], 'no script errors in the page');
});

interface LiveReply {
  served_by: number;
  role: string;
  version: number;
  types: string[];
  bad: { path: string; reason: string }[];
  bad_total: number;
  drain: { le: number[]; counts: number[]; count: number };
}

/** GETs /live on fresh connections until both cluster workers answered; one reply per pid. */
async function liveFromEveryWorker(): Promise<Map<number, LiveReply>> {
  const live = new Map<number, LiveReply>();
  for (let i = 0; i < 100 && live.size < 2; i++) {
    const r = await node.get('/live');
    assert.equal(r.status, 200);
    const body = r.json<LiveReply>();
    live.set(body.served_by, body);
  }
  assert.equal(live.size, 2, 'both cluster workers answered');
  return live;
}

test("every worker behind the port answers /live with the primary's view; a deleted bad peer leaves it", async () => {
  const bad = await peer.create(`${FOLDER}/kim-logic`, 'not json');
  await eventually(
    'the bad peer reported',
    async () => (await node.get('/live')).json<LiveReply>().bad_total === 1,
  );
  for (const l of (await liveFromEveryWorker()).values()) {
    assert.match(l.role, /^worker \d+$/);
    assert.deepEqual(l.types, ['logic', 'cache']);
    assert.deepEqual(
      l.bad.map((b) => [b.path, b.reason]),
      [[bad, 'not_json']],
    );
    assert.equal(l.drain.counts.length, l.drain.le.length + 1);
    assert.equal(
      l.drain.counts.reduce((a, c) => a + c, 0),
      l.drain.count,
    );
    assert.ok(l.drain.count > 0);
  }
  await peer.remove(bad);
  await eventually(
    'the deleted bad peer gone',
    async () => (await node.get('/live')).json<LiveReply>().bad_total === 0,
  );
  const page = await node.get('/');
  assert.equal(page.status, 200);
  assert.match(page.body, /^<!doctype html>/);
});
