/**
 * node-zookeeper-client, a CommonJS package, loaded through require(). An ESM `import` of a CommonJS package makes
 * Node lex the package's source for its named exports, in every isolate that imports it, and a fresh bio thread
 * paid for it on every start: with the imports of it and of pino (which the thread no longer loads, see
 * bio/bio_logger.ts) ZkClient.start() took 104 ms, with require() 87 ms, and the process's CPU over it 132 and
 * 98 ms (medians of 10 starts of each build, alternating in one process).
 */
import { createRequire } from 'node:module';
import type * as NodeZookeeperClient from 'node-zookeeper-client';

export const zookeeper = createRequire(import.meta.url)(
  'node-zookeeper-client',
) as typeof NodeZookeeperClient;
