// kimserver-ring-sample.json (copied from ../shared): vectors made by kimserver's own C++ code.
import { readFileSync } from 'node:fs';
import type { ZkNode } from '../../src/index.js';

export const sample = JSON.parse(
  readFileSync(new URL('../../../test/unit/nodes-kimserver-ring-sample.json', import.meta.url), 'utf8'),
) as {
  nodes: { host: string; port: number; worker_cnt: number }[];
  'vnodes_127.0.0.1:3355.1_first8': number[];
  hash: ({ key_hex: string } & Record<'fnv1a_64' | 'fnv1_64' | 'murmur3_32', number>)[];
  lookup: { key_hex: string; node_id: string }[];
};

/** The sample's nodes as registration records, in the listed order (port as kimserver writes it). */
export const sampleNodes: ZkNode[] = sample.nodes.map((n, i) => ({
  path: `/kimserver/nodes/logic/kimserver-logic${String(i + 1).padStart(10, '0')}`,
  type: 'logic',
  host: n.host,
  port: n.port,
  worker_cnt: n.worker_cnt,
  active_time: 1_600_000_000 + i,
}));

/** The i-th of many distinct logic nodes (4 workers each), for tables of any size. */
export function node(i: number, over: Partial<ZkNode> = {}): ZkNode {
  return {
    path: `/kimserver/nodes/logic/kimserver-logic${String(i).padStart(10, '0')}`,
    type: 'logic',
    host: `10.1.${i >> 8}.${i & 255}`,
    port: 4000 + (i % 7),
    worker_cnt: 4,
    active_time: 1_700_000_000 + i,
    ...over,
  };
}
