/**
 * The primary of `zkbio node`: it owns the one ZooKeeper session (ZkClient and its bio thread), shares the
 * node table with `workers` cluster workers, restarts a worker that dies, and writes the load report. With
 * no workers it serves the status endpoints itself.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { shareNodeTable } from '../cluster/share.js';
import type { ZkbioConfig } from '../discovery/config.js';
import { ZkClient } from '../discovery/zk_client.js';
import { renderMetrics, serveMetricsTo } from './metrics_ipc.js';
import { EXIT_STATUS_ADDRESS, listenOn } from './status_listen.js';
import { liveStatusOf } from './status_live.js';
import { createStatusServer } from './status_server.js';

/** A worker that dies is forked again after this long, so a crash loop cannot spin the CPU. */
const REFORK_DELAY_MS = 500;
/** Workers get this long to exit on SIGTERM before they are killed. */
const WORKER_STOP_MS = 3000;

/**
 * A worker holds a replica of the table and serves HTTP: its live data is a few MB, and V8's young generation,
 * grown to 32 MB by the burst of a sync, only kept garbage resident. With 1 MB semi-spaces a 1-worker node with
 * 5,000 peers measured ~40 MB less RSS in its worker, at the same sync time. A user's own setting wins.
 */
const WORKER_SEMI_SPACE_FLAG = '--max-semi-space-size=1';

function workerExecArgv(): string[] {
  const own = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  // V8 takes its flags with '-' or '_'.
  if (own.some((a) => a.replaceAll('_', '-').startsWith('--max-semi-space-size'))) return process.execArgv;
  return [...process.execArgv, WORKER_SEMI_SPACE_FLAG];
}

export interface PrimaryOptions {
  config: ZkbioConfig;
  workers: number;
  listen: { host: string; port: number } | undefined;
  logger: Logger;
}

export async function runPrimary({ config, workers, listen, logger }: PrimaryOptions): Promise<void> {
  const client = new ZkClient(config, { logger });
  const live = liveStatusOf(client);
  client.on('state', (state, previous) => logger.info({ state, previous }, 'session state'));
  client.on('added', (n) => logger.info({ path: n.path, host: n.host, port: n.port }, 'node added'));
  client.on('removed', (n) => logger.info({ path: n.path }, 'node removed'));
  client.on('changed', (c) => logger.info({ path: c.new.path }, 'node changed'));
  await client.start();

  let stopping = false;
  const share = shareNodeTable(client);
  cluster.setupPrimary({ execArgv: workerExecArgv() });
  const fork = (): Worker => {
    const worker = cluster.fork();
    serveMetricsTo(worker, client, live);
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (code === EXIT_STATUS_ADDRESS) {
      // Every new worker would fail the same way: stop rather than re-fork forever.
      logger.error({ pid: worker.process.pid }, 'a worker could not serve --status; stopping');
      void stop('a worker could not serve --status', EXIT_STATUS_ADDRESS);
      return;
    }
    logger.warn({ pid: worker.process.pid, code, signal }, 'worker died; forking a new one');
    setTimeout(() => {
      if (!stopping) fork();
    }, REFORK_DELAY_MS);
  });
  for (let i = 0; i < workers; i++) fork();

  const server =
    workers === 0
      ? createStatusServer({
          nodes: client.nodes,
          status: () => ({ state: client.state, self: client.self, healthy: client.healthy }),
          metrics: () => renderMetrics(client),
          live,
        })
      : null;
  if (server && listen) {
    // The address was free a moment ago (node_command probed it). Taken since: close the session before the
    // command exits 2, so that peers do not see this node until its session times out.
    try {
      await listenOn(server, listen);
    } catch (err) {
      await client.stop();
      throw err;
    }
  }
  logger.info({ workers, status: listen ? `${listen.host}:${listen.port}` : null }, 'node started');

  // kimserver's load report; ZkClient writes it at most once per payload interval.
  const started = Date.now();
  const report = setInterval(() => {
    const mem = process.memoryUsage();
    client.setPayload({
      pid: process.pid,
      workers: Object.keys(cluster.workers ?? {}).length,
      uptime_s: Math.round((Date.now() - started) / 1000),
      rss: mem.rss,
    });
  }, 1000);

  const stop = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping');
    clearInterval(report);
    server?.close();
    server?.closeAllConnections();
    await stopWorkers();
    share.close();
    await client.stop();
    logger.info('stopped');
    process.exit(exitCode);
  };
  // Without discovery the node would serve a table that no longer follows ZooKeeper: exit, for a supervisor.
  client.on('failed', () => void stop('bio thread failed', 1));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function stopWorkers(): Promise<void> {
  const alive = Object.values(cluster.workers ?? {}).filter(
    (w): w is Worker => w !== undefined && !w.isDead(),
  );
  await Promise.all(
    alive.map(
      (w) =>
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => w.process.kill('SIGKILL'), WORKER_STOP_MS);
          w.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          w.process.kill('SIGTERM');
        }),
    ),
  );
}
