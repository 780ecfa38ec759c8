/**
 * A cluster worker of `zkbio node`: it holds a replica of the primary's node table and serves the status
 * endpoints from it on the shared --status port. It never talks to ZooKeeper.
 */
import type { Logger } from 'pino';
import { joinNodeTable } from '../cluster/join.js';
import { requestLive, requestMetrics } from './metrics_ipc.js';
import { EXIT_STATUS_ADDRESS, listenOn } from './status_listen.js';
import { createStatusServer } from './status_server.js';

export async function runWorker(
  listen: { host: string; port: number } | undefined,
  logger: Logger,
): Promise<void> {
  const replica = await joinNodeTable();
  logger.info({ version: replica.nodes.version, nodes: replica.nodes.size }, 'joined the node table');
  const server = createStatusServer({
    nodes: replica.nodes,
    status: () => replica.status,
    metrics: () => requestMetrics(),
    live: () => requestLive(),
  });
  if (listen) {
    try {
      await listenOn(server, listen);
    } catch (err) {
      // The primary sees this exit code and stops the node instead of forking another worker.
      logger.error({ err }, (err as Error).message);
      replica.close();
      process.exit(EXIT_STATUS_ADDRESS);
    }
  }
  const stop = () => {
    server.close();
    server.closeAllConnections();
    replica.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The primary going away takes the IPC channel with it: nothing left to serve from.
  process.on('disconnect', stop);
}
