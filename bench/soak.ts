/**
 * `npm run soak -- --minutes N [--peers 200] [--rate 40]`: discovery under churn and faults for N minutes,
 * then a check that nothing was lost. Writes bench/results/soak.json, prints a summary, exits 1 on any failure.
 *
 * - A 3-server ZooKeeper ensemble on loopback (src/cli/zk_server.ts).
 * - The node under test in its own process (support/soak-node.ts): a kimserver-style ZkClient subscribing to
 *   the peers' type, so that it can be frozen with SIGSTOP and its heap and handles measured on their own.
 * - `--peers` peers, each its own session, in another process (support/soak-peers.ts): two thirds join at
 *   once, then they join, change and leave at random at `--rate` steps per second for the whole run.
 * - Faults, one at a time (support/soak-faults.ts): a server killed (-9) and started again every 8-20 s, the
 *   leader a third of the time; once, at half time, the node frozen until its session expires.
 * After the churn stops, a bounded wait for the node to settle, then the checks (support/soak-check.ts):
 * the table equals ZooKeeper's truth read by an independent client (paths and data); every task acked
 * exactly once; heap growth from warm-up to the end bounded (after full GCs); no handle, timer or fd more
 * than at warm-up; exactly one registration of the node; exactly one expiry, the forced one.
 * SOAK_LOG=warn (any pino level) shows the node's own zkbio log lines; by default only errors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startZk, type ZkHandle } from '../src/cli/zk_server.js';
import { IpcChild } from './support/ipc-child.js';
import { connectPeer, type PeerClient } from './support/peer-client.js';
import {
  growth,
  readTruth,
  type TaskAcks,
  type Truth,
  tableMismatches,
  taskAcks,
} from './support/soak-check.js';
import { type Expiry, forceExpiry, type Restart, restartServer } from './support/soak-faults.js';
import type { NodeSnapshot } from './support/soak-node.js';
import { SoakNode } from './support/soak-node-handle.js';
import type { ChurnCounts, PeersCommand, PeersReply } from './support/soak-peers.js';

const ROOT = '/soak/nodes';
const PEER_TYPE = 'peer';
const OWN_TYPE = 'gate';
/** Long enough to ride out a leader election; short enough that freezing past it keeps the run short. */
const NODE_SESSION_TIMEOUT_MS = 6000;
const RESTART_GAP_MS = [8000, 20_000];
/** No restart starts this close to the end of the churn, so the settle wait does not wait for a JVM. */
const RESTART_ROOM_MS = 5000;
const EXPIRY_BOUND_MS = 30_000;
const SETTLE_MS = 30_000;
/**
 * Heap retained after warm-up may grow by this much at most. The table is small (a few hundred nodes, well
 * under 1 MB with its rings), so growth beyond a few MB over a soak is something kept per event or per session.
 */
const HEAP_GROWTH_LIMIT = 8 << 20;
const PEERS_SCRIPT = new URL('./support/soak-peers.js', import.meta.url);
const RESULTS = new URL('../../bench/results/', import.meta.url);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Math.round((bytes / (1 << 20)) * 100) / 100;

function options(): { minutes: number; peers: number; rate: number } {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '2' },
      peers: { type: 'string', default: '200' },
      rate: { type: 'string', default: '40' },
    },
  });
  const num = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${v}`);
    return n;
  };
  return {
    minutes: num('minutes', values.minutes),
    peers: Math.round(num('peers', values.peers)),
    rate: num('rate', values.rate),
  };
}

function nodeConfig(servers: string): Record<string, unknown> {
  return {
    server_name: 'soak',
    node_type: OWN_TYPE,
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 2,
    zookeeper: {
      servers,
      session_timeout: NODE_SESSION_TIMEOUT_MS,
      nodes: { root: ROOT, subscribe_node_type: [PEER_TYPE] },
      payload: { root: '/soak/payload' },
      log_level: process.env.SOAK_LOG ?? 'error',
    },
  };
}

/** Restarts servers at random gaps until the churn ends, and forces the node's expiry once at `expireAt`. */
async function faults(
  zk: ZkHandle,
  node: SoakNode,
  truth: PeerClient,
  expireAt: number,
  end: number,
  log: (msg: string) => void,
): Promise<{ restarts: Restart[]; expiry: Expiry | null }> {
  const restarts: Restart[] = [];
  let expiry: Expiry | null = null;
  for (;;) {
    let gap = RESTART_GAP_MS[0] + Math.random() * (RESTART_GAP_MS[1] - RESTART_GAP_MS[0]);
    if (!expiry) gap = Math.min(gap, expireAt - Date.now());
    if (Date.now() + gap > end - RESTART_ROOM_MS && expiry) return { restarts, expiry };
    await sleep(Math.max(0, gap));
    if (!expiry && Date.now() >= expireAt) {
      expiry = await forceExpiry(node, truth, EXPIRY_BOUND_MS);
      log(
        `forced expiry: frozen ${expiry.frozenMs} ms, registered again ${expiry.recoveredMs} ms after the thaw`,
      );
    } else {
      const r = await restartServer(zk);
      restarts.push(r);
      log(`server ${r.server}${r.wasLeader ? ' (leader)' : ''} killed and back in ${r.ms} ms`);
    }
  }
}

interface Verdict {
  mismatches: string[];
  acks: TaskAcks;
  resourceGrowth: string[];
  fdGrowth: string[];
  registrationOk: boolean;
}

function verdict(warm: NodeSnapshot, end: NodeSnapshot, truth: Truth): Verdict {
  return {
    mismatches: tableMismatches(end, truth),
    acks: taskAcks(end),
    resourceGrowth: growth(warm.resources, end.resources),
    fdGrowth: growth(warm.fds, end.fds),
    registrationOk: truth.registrations.length === 1 && truth.registrations[0] === end.self,
  };
}

const settled = (n: NodeSnapshot, v: Verdict) =>
  n.healthy &&
  v.mismatches.length === 0 &&
  v.acks.ok &&
  v.resourceGrowth.length === 0 &&
  v.fdGrowth.length === 0 &&
  v.registrationOk;

/**
 * Polls until the node agrees with ZooKeeper and has nothing in flight (or the bound passes), then takes the
 * final sample after full GCs; that sample is the one judged.
 */
async function settle(
  node: SoakNode,
  truth: PeerClient,
  warm: NodeSnapshot,
): Promise<{ end: NodeSnapshot; truth: Truth; v: Verdict; ms: number }> {
  const since = Date.now();
  const read = () => readTruth(truth, `${ROOT}/${PEER_TYPE}`, `${ROOT}/${OWN_TYPE}`);
  for (;;) {
    const over = Date.now() - since > SETTLE_MS;
    const quick = await node.snapshot();
    if (over || settled(quick, verdict(warm, quick, await read()))) {
      const end = await node.snapshot(true);
      const t = await read();
      const v = verdict(warm, end, t);
      if (over || settled(end, v)) return { end, truth: t, v, ms: Date.now() - since };
    }
    await sleep(250);
  }
}

async function soak(opts: ReturnType<typeof options>, log: (msg: string) => void): Promise<SoakReport> {
  const zk = await startZk({ servers: 3, local: true });
  const fleet = new IpcChild<PeersCommand>(PEERS_SCRIPT);
  const node = new SoakNode();
  let truth: PeerClient | undefined;
  try {
    await fleet.request(
      { op: 'connect', connectString: zk.connectString, count: opts.peers, folder: `${ROOT}/${PEER_TYPE}` },
      120_000,
    );
    await fleet.request({ op: 'join', count: Math.round((opts.peers * 2) / 3) }, 60_000);
    truth = await connectPeer(zk.connectString, { sessionTimeout: 10_000 });
    await node.start(nodeConfig(zk.connectString), 30_000);
    log(`ensemble, ${opts.peers} peer sessions and the node are up; churning at ${opts.rate} steps/s`);

    const churnMs = opts.minutes * 60_000;
    const begin = Date.now();
    const end = begin + churnMs;
    await fleet.request({ op: 'churn', ratePerS: opts.rate }, 10_000);
    // Warm-up: the table filled, the code compiled, the first reconnects done, before the baseline is taken.
    await sleep(Math.min(Math.max(churnMs * 0.1, 15_000), 60_000));
    const warm = await node.snapshot(true);
    log(`warm-up sample: heap ${mb(warm.heapUsed)} MB, table ${warm.entries.length} nodes`);
    const f = await faults(zk, node, truth, begin + churnMs / 2, end, log);
    await sleep(end - Date.now());
    const churn = (await fleet.request<PeersReply>({ op: 'stop' }, 30_000)).counts;
    log('churn stopped; settling');
    const s = await settle(node, truth, warm);
    return report(opts, churn, f.restarts, f.expiry, warm, s);
  } finally {
    truth?.close();
    await node.close();
    await fleet.close();
    await zk.stop();
  }
}

/** bench/results/soak.json's results. */
interface SoakReport {
  minutes: number;
  peers: number;
  rate_per_s: number;
  churn: ChurnCounts;
  server_restarts: number;
  leader_restarts: number;
  restart_ms: number[];
  forced_expiry: Expiry | null;
  /** Expiries the node saw (zkbio_session_expiries_total): the forced one only. */
  expiries_seen: number;
  /** zkbio_registrations_total: the first one and the one after the expiry. */
  registrations: number;
  self: string | null;
  state: string;
  table_size: number;
  truth_size: number;
  mismatches: number;
  mismatch_samples: string[];
  settle_ms: number;
  tasks_vs_acks: Record<string, { tasks: number; acks: number }>;
  event_acks: Record<string, number>;
  pending_tasks: number;
  heap: {
    start_mb: number;
    end_mb: number;
    growth_mb: number;
    limit_mb: number;
    rss_start_mb: number;
    rss_end_mb: number;
  };
  handles: { start: Record<string, number>; end: Record<string, number>; grew: string[] };
  fds: { start: Record<string, number>; end: Record<string, number>; grew: string[] };
  checks: Record<string, boolean>;
  pass: boolean;
}

function report(
  opts: ReturnType<typeof options>,
  churn: ChurnCounts,
  restarts: Restart[],
  expiry: Expiry | null,
  warm: NodeSnapshot,
  s: Awaited<ReturnType<typeof settle>>,
): SoakReport {
  const { end, v } = s;
  const heapGrowth = end.heapUsed - warm.heapUsed;
  const checks = {
    table_matches_zookeeper: v.mismatches.length === 0,
    every_task_acked_once: v.acks.ok,
    heap_growth_bounded: heapGrowth <= HEAP_GROWTH_LIMIT,
    no_leaked_handles: v.resourceGrowth.length === 0 && v.fdGrowth.length === 0,
    one_registration: v.registrationOk,
    healthy_at_end: end.healthy,
    // The forced one only: a server restart must never cost the node its session.
    one_expiry: expiry !== null && end.expiries === 1,
  };
  return {
    minutes: opts.minutes,
    peers: opts.peers,
    rate_per_s: opts.rate,
    churn,
    server_restarts: restarts.length,
    leader_restarts: restarts.filter((r) => r.wasLeader).length,
    restart_ms: restarts.map((r) => r.ms),
    forced_expiry: expiry,
    expiries_seen: end.expiries,
    registrations: end.registrations,
    self: end.self,
    state: end.state,
    table_size: end.entries.length,
    truth_size: s.truth.peers.size,
    mismatches: v.mismatches.length,
    mismatch_samples: v.mismatches.slice(0, 10),
    settle_ms: s.ms,
    tasks_vs_acks: v.acks.perCmd,
    event_acks: v.acks.events,
    pending_tasks: end.pendingTasks,
    heap: {
      start_mb: mb(warm.heapUsed),
      end_mb: mb(end.heapUsed),
      growth_mb: mb(heapGrowth),
      limit_mb: mb(HEAP_GROWTH_LIMIT),
      rss_start_mb: mb(warm.rss),
      rss_end_mb: mb(end.rss),
    },
    handles: { start: warm.resources, end: end.resources, grew: v.resourceGrowth },
    fds: { start: warm.fds, end: end.fds, grew: v.fdGrowth },
    checks,
    pass: Object.values(checks).every(Boolean),
  };
}

function summary(x: SoakReport, wallS: number): string {
  const c = x.churn;
  const failed = Object.entries(c.failed).map(([k, n]) => `${k} ${n}`);
  const kinds = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  const e = x.forced_expiry;
  return [
    `soak: ${x.minutes} min, ${x.peers} peers, ${x.rate_per_s} steps/s: ${x.pass ? 'PASS' : 'FAIL'} (wall ${wallS} s)`,
    `  churn     ${c.joins} joins, ${c.leaves} leaves (${c.sessionLeaves} by closing the session), ${c.changes} data changes; failed steps ${failed.join(', ') || 0}; peer expiries ${c.peerExpiries}`,
    `  faults    ${x.server_restarts} server restarts (${x.leader_restarts} of the leader); forced expiry ${e ? `frozen ${e.frozenMs} ms, registered again ${e.recoveredMs} ms after the thaw` : 'not done'}`,
    `  node      ${x.expiries_seen} expiries seen, ${x.registrations} registrations, ${x.state}`,
    `  table     ${x.table_size} nodes, ${x.mismatches} mismatches with ZooKeeper (settled ${x.settle_ms} ms after the churn)`,
    ...x.mismatch_samples.map((m) => `            ${m}`),
    `  tasks     ${Object.entries(x.tasks_vs_acks)
      .map(([cmd, t]) => `${cmd} ${t.tasks}/${t.acks}`)
      .join(', ')} (tasks/acks); pending ${x.pending_tasks}`,
    `  heap      ${x.heap.start_mb} MB after warm-up, ${x.heap.end_mb} MB at the end (${x.heap.growth_mb >= 0 ? '+' : ''}${x.heap.growth_mb} MB; limit +${x.heap.limit_mb} MB)`,
    `  handles   warm-up ${kinds(x.handles.start)}; end ${kinds(x.handles.end)}`,
    `  fds       warm-up ${kinds(x.fds.start)}; end ${kinds(x.fds.end)}`,
    `  checks    ${Object.entries(x.checks)
      .map(([k, ok]) => `${k} ${ok ? 'ok' : 'FAILED'}`)
      .join(', ')}`,
  ].join('\n');
}

const started = Date.now();
const log = (msg: string) => console.log(`[soak ${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);
let results: SoakReport | { error: string; pass: false };
try {
  results = await soak(options(), log);
} catch (err) {
  console.error(err);
  results = { error: String(err), pass: false };
}
const wallS = Math.round((Date.now() - started) / 100) / 10;
mkdirSync(RESULTS, { recursive: true });
const out = {
  name: 'soak',
  date: new Date().toISOString(),
  node: process.version,
  wall_s: wallS,
  ...results,
};
writeFileSync(new URL('soak.json', RESULTS), `${JSON.stringify(out, null, 2)}\n`);
if (!('error' in results)) console.log(summary(results, wallS));
console.log('wrote bench/results/soak.json');
// Exit explicitly: a ZooKeeper client closed while its server was down may keep retrying a socket (#60).
process.exit(results.pass ? 0 : 1);
