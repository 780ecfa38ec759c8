/**
 * `zkbio node --config FILE [--status HOST:PORT] [--workers N]`: runs one server node until SIGTERM or SIGINT.
 *
 * The primary process validates the config (a bad one exits 2 naming the field, before any thread or socket
 * starts), checks that the --status address can be bound (else exit 2 naming it), owns the ZooKeeper session
 * and forks `worker_cnt` cluster workers (or --workers N; 0 serves from the primary alone). Every process that
 * serves answers the status endpoints on the shared --status port. SIGTERM/SIGINT stop the workers, close the
 * session (peers see the node go at once) and exit 0.
 */

import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { probeAddress } from './status_listen.js';
import { PROCESS_ROLE, parseListenAddress } from './status_server.js';
import { parsed, UsageError } from './usage.js';
import { fromConfig } from './zk_target.js';

function parseNodeArgs(argv: string[]) {
  const { values } = parsed(() =>
    parseArgs({
      args: argv,
      options: { config: { type: 'string' }, status: { type: 'string' }, workers: { type: 'string' } },
    }),
  );
  if (!values.config) throw new UsageError('--config is required');
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 256)) {
    throw new UsageError(`--workers must be an integer from 0 to 256, got "${values.workers}"`);
  }
  const status = values.status;
  const listen = status === undefined ? undefined : parsed(() => parseListenAddress(status));
  return { configPath: values.config, workers, listen };
}

export async function run(argv: string[]): Promise<void> {
  const { configPath, workers, listen } = parseNodeArgs(argv);
  const config = fromConfig(configPath);
  const logger = createLogger({
    level: config.zookeeper.logLevel,
    bindings: { node: config.serverName, role: PROCESS_ROLE },
  });
  // Each role loads only its own modules: a worker process never holds ZkClient, the Bio, piscina and prom-client
  // (2 MB of an idle worker's RSS here: 55.6 against 53.5).
  if (!cluster.isPrimary) return (await import('./node_worker.js')).runWorker(listen, logger);
  for (const warning of config.warnings) logger.warn({ config: configPath }, warning);
  const n = workers ?? config.workerCnt;
  // Before any thread or connection: an address that cannot be bound is a bad command line.
  if (listen) await probeAddress(listen);
  await (await import('./node_primary.js')).runPrimary({ config, workers: n, listen, logger });
}
