/**
 * The CommonJS packages that the bio thread loads, through require(). An ESM `import` of a CommonJS package makes
 * Node lex the package's source for its named exports, in every isolate that imports it, and a fresh bio thread
 * paid for it on every start: ZkClient.start() took 104 ms with imports and 87 ms with require(), and the process's
 * CPU over it 132 ms and 98 ms (medians of 10 starts of each build, alternating in one process).
 */
import { createRequire } from 'node:module';
import type * as NodeZookeeperClient from 'node-zookeeper-client';
import type * as Pino from 'pino';

const requireCjs = createRequire(import.meta.url);

export const zookeeper = requireCjs('node-zookeeper-client') as typeof NodeZookeeperClient;
export const pino = (requireCjs('pino') as typeof Pino).pino;
