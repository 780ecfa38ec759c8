/**
 * `zkbio node --config FILE [--status HOST:PORT] [--workers N]`: runs one server node until SIGTERM or SIGINT.
 *
 * The primary process validates the config (a bad one exits 2 naming the field, before any thread or socket
 * starts), owns the ZooKeeper session and forks `worker_cnt` cluster workers (or --workers N; 0 serves from the
 * primary alone). Every process that serves answers the status endpoints on the shared --status port.
 * SIGTERM/SIGINT stop the workers, close the session (peers see the node go at once) and exit 0.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import type { ZkbioConfig } from '../discovery/config.js';
import { loadConfigFile } from '../discovery/config_file.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { runPrimary } from './node_primary.js';
import { runWorker } from './node_worker.js';
import { parseListenAddress } from './status_server.js';

const USAGE = 'usage: zkbio node --config FILE [--status HOST:PORT] [--workers N]';

function fail(message: string): never {
  process.stderr.write(`zkbio: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseNodeArgs(argv: string[]) {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, status: { type: 'string' }, workers: { type: 'string' } },
    });
    if (!values.config) fail('--config is required');
    const workers = values.workers === undefined ? undefined : Number(values.workers);
    if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 256)) {
      fail(`--workers must be an integer from 0 to 256, got "${values.workers}"`);
    }
    const listen = values.status === undefined ? undefined : parseListenAddress(values.status);
    return { configPath: values.config, workers, listen };
  } catch (err) {
    fail((err as Error).message);
  }
}

async function runNode(argv: string[]): Promise<void> {
  const { configPath, workers, listen } = parseNodeArgs(argv);
  let config: ZkbioConfig;
  try {
    config = loadConfigFile(configPath);
  } catch (err) {
    if (err instanceof ConfigError) fail(`bad config ${configPath}: ${err.message}`);
    throw err;
  }
  const role = cluster.isPrimary ? 'primary' : `worker ${cluster.worker?.id}`;
  const logger = createLogger({
    level: config.zookeeper.logLevel,
    bindings: { node: config.serverName, role },
  });
  if (!cluster.isPrimary) return runWorker(listen, logger);
  for (const warning of config.warnings) logger.warn({ config: configPath }, warning);
  await runPrimary({ config, workers: workers ?? config.workerCnt, listen, logger });
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'node') await runNode(rest);
else fail(command === undefined ? 'no command' : `unknown command "${command}"`);
