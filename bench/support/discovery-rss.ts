/**
 * bench/discovery's memory scenario: a real `zkbio node` (bin/zkbio.js, as a user runs it) with one cluster worker,
 * started while the sync set's peers are registered. Once its status port lists every peer (GET /nodes, which a
 * worker serves from its replica of the table), the resident memory of the whole node is read from /proc: the
 * primary (its ZooKeeper session, bio thread and table) and every process it forked (each worker's replica,
 * with its ring built by one lookup, as a serving worker's is).
 * The target is the sum of RSS, under 150 MB with 5,000 peers. RSS counts a page shared by two processes
 * in both: the node binary's text, about 40 MB per Node process here, is counted twice. So the private memory
 * (pages no other process maps) and the proportional set (shared pages split between their processes) are given
 * beside it. Read three times: synced; settled, SETTLE_MS later; and idle, IDLE_MS after the sync. Settled is
 * too soon for V8 to give back what a sync grew: its memory reducer, which shrinks a heap (the young generation
 * above all) once allocation has been low for a while, was seen here to run 15-20 s after a sync in the worker
 * and 20-55 s after it in the primary, taking the primary's main heap from 57 to 17 MB and the bio thread's from
 * 29 to 9 MB (--trace-gc). Idle is what a long-lived server holds. The same node subscribed to a type with no
 * peers, read as late, is the baseline in the same run: what the processes, their modules and threads take
 * before any peer. Linux only: elsewhere it is skipped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src/cli/zk_server.js';
import { TYPE } from './discovery-observers.js';

const BIN = fileURLToPath(new URL('../../../bin/zkbio.js', import.meta.url));
const POLL_MS = 100;
const SETTLE_MS = 10_000;
/** After the sync, past the 20-55 s the memory reducer took here. */
const IDLE_MS = 90_000;

export interface Rss {
  /** Settled: primary and workers together, MB. */
  rss_mb: number;
  rss_primary_mb: number;
  /** Each worker process, MB. */
  rss_workers_mb: number[];
  /** Settled, all processes: pages only they map, and the proportional set. */
  private_mb: number;
  pss_mb: number;
  /** Primary and workers together just as the last peer was listed. */
  rss_synced_mb: number;
  /** Idle: IDLE_MS after the sync, once V8's memory reducer has given back what the sync grew. */
  rss_idle_mb: number;
  rss_idle_primary_mb: number;
  rss_idle_workers_mb: number[];
  peers: number;
  /** From spawn until /nodes listed every peer. */
  synced_ms: number;
  /** The baseline: the same node with no peers, settled and idle. */
  empty?: Pick<Rss, 'rss_mb' | 'rss_primary_mb' | 'rss_workers_mb' | 'private_mb' | 'rss_idle_mb'>;
}

interface Memory {
  rss: number;
  pss: number;
  private: number;
}

const mb = (kb: number): number => Number((kb / 1024).toFixed(1));

/** A process's memory from /proc/PID/smaps_rollup, kB; zeros once it is gone. */
function memoryKb(pid: number): Memory {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    // gone
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: field('Rss'), pss: field('Pss'), private: field('Private_Clean') + field('Private_Dirty') };
}

/** The node's processes: the primary first, then the workers it forked. */
function memoryOf(pid: number): Memory[] {
  return [pid, ...childPids(pid)].map(memoryKb);
}

const sum = (ms: Memory[], key: keyof Memory): number => ms.reduce((n, m) => n + m[key], 0);

/** RSS of the node's processes (MB): all together, the primary's, and each worker's. */
const rssOf = (ms: Memory[]): [all: number, primary: number, workers: number[]] => [
  mb(sum(ms, 'rss')),
  mb(ms[0].rss),
  ms.slice(1).map((m) => mb(m.rss)),
];

/** The processes `pid` forked (every thread's children: cluster forks from the main thread). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** GET `path` on the status port, its body parsed; undefined while the port does not answer. */
function getJson(port: number, path: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/** The node count GET /nodes reports, or -1 while the port does not answer. */
async function nodesListed(port: number): Promise<number> {
  const nodes = (await getJson(port, '/nodes'))?.nodes;
  return Array.isArray(nodes) ? nodes.length : -1;
}

export function rssSupported(): boolean {
  return process.platform === 'linux';
}

/**
 * Runs the node until it lists `peers` nodes (within timeoutMs), reads its memory, stops it. With no peers it
 * only waits for the status port to answer, and asks no lookup (there is no member to answer it).
 */
export async function nodeRss(
  connectString: string,
  root: string,
  peers: number,
  timeoutMs: number,
): Promise<Rss> {
  const dir = mkdtempSync(join(tmpdir(), 'zkbio-rss-'));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      server_name: 'rss',
      node_type: 'rss',
      node_host: '127.0.0.1',
      node_port: 3356,
      worker_cnt: 1,
      zookeeper: {
        servers: connectString,
        nodes: { root, subscribe_node_type: [TYPE] },
        payload: { root: `${root}-payload` },
        log_level: 'warn',
      },
    }),
  );
  const [port] = await freePorts(1);
  const started = performance.now();
  const proc: ChildProcess = spawn(
    process.execPath,
    [BIN, 'node', '--config', config, '--status', `127.0.0.1:${port}`],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = once(proc, 'exit');
  try {
    const deadline = started + timeoutMs;
    for (;;) {
      const listed = await nodesListed(port);
      if (listed >= peers) break;
      if (proc.exitCode !== null) throw new Error(`zkbio node exited with ${proc.exitCode} before it synced`);
      if (performance.now() > deadline)
        throw new Error(`zkbio node listed ${listed} of ${peers} peers within ${timeoutMs} ms`);
      await sleep(POLL_MS);
    }
    const synced_ms = Math.round(performance.now() - started);
    // A serving worker answers lookups: one builds its ring, which a table that was never asked does not hold.
    if (peers > 0 && (await getJson(port, `/lookup?type=${TYPE}&key=rss`))?.id === undefined)
      throw new Error('zkbio node: GET /lookup gave no member');
    const pid = proc.pid as number;
    const synced = memoryOf(pid);
    // Just synced, the node still holds the sync's garbage; a server lives long after it.
    await sleep(SETTLE_MS);
    const settled = memoryOf(pid);
    await sleep(IDLE_MS - SETTLE_MS);
    const [rss_mb, rss_primary_mb, rss_workers_mb] = rssOf(settled);
    const [rss_idle_mb, rss_idle_primary_mb, rss_idle_workers_mb] = rssOf(memoryOf(pid));
    return {
      rss_mb,
      rss_primary_mb,
      rss_workers_mb,
      private_mb: mb(sum(settled, 'private')),
      pss_mb: mb(sum(settled, 'pss')),
      rss_synced_mb: mb(sum(synced, 'rss')),
      rss_idle_mb,
      rss_idle_primary_mb,
      rss_idle_workers_mb,
      peers,
      synced_ms,
    };
  } finally {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
