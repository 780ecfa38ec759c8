// The table's snapshot: plain JSON-able data, because node:cluster IPC serialises messages as JSON.
// Rows are tuples rather than objects to keep a 1,000-node snapshot small.
import type { HashAlg } from './hash.js';
import { HASH_ALGS } from './hash.js';
import type { ZkNode } from './validate.js';
import { validateZkNode } from './validate.js';

export const SNAPSHOT_FORMAT = 'zkbio.nodes/1';

/** [path, type, host, port, worker_cnt, active_time] */
export type SnapshotRow = [string, string, string, number, number, number];

export interface NodesSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** The table version the snapshot was taken at. */
  version: number;
  /** Ring layout the rows were built with; a table refuses a snapshot made for another layout. */
  vnodeCount: number;
  hash: HashAlg;
  /**
   * Serving nodes in ring insertion order (which decides point collisions), then the nodes that
   * another path of the same host:port shadows.
   */
  nodes: SnapshotRow[];
}

export function toRow(n: ZkNode): SnapshotRow {
  return [n.path, n.type, n.host, n.port, n.worker_cnt, n.active_time];
}

/** Checks a received snapshot; throws a TypeError naming what is wrong. */
export function parseSnapshot(snap: unknown): {
  version: number;
  vnodeCount: number;
  hash: HashAlg;
  nodes: ZkNode[];
} {
  const s = snap as Partial<NodesSnapshot> | null;
  if (typeof s !== 'object' || s === null || s.format !== SNAPSHOT_FORMAT) {
    throw new TypeError(`snapshot.format must be "${SNAPSHOT_FORMAT}"`);
  }
  if (typeof s.version !== 'number' || !Number.isSafeInteger(s.version) || s.version < 0) {
    throw new TypeError('snapshot.version must be a non-negative integer');
  }
  if (typeof s.vnodeCount !== 'number' || typeof s.hash !== 'string' || !HASH_ALGS.includes(s.hash)) {
    throw new TypeError('snapshot.vnodeCount and snapshot.hash must describe the ring layout');
  }
  if (!Array.isArray(s.nodes)) throw new TypeError('snapshot.nodes must be an array');
  const nodes: ZkNode[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < s.nodes.length; i++) {
    const row = s.nodes[i];
    if (!Array.isArray(row) || row.length !== 6)
      throw new TypeError(`snapshot.nodes[${i}] must be a 6-tuple`);
    const [path, type, host, port, worker_cnt, active_time] = row;
    const check = validateZkNode({ path, type, host, port, worker_cnt, active_time });
    if (!check.ok) throw new TypeError(`snapshot.nodes[${i}]: ${check.reason}`);
    if (seen.has(check.node.path))
      throw new TypeError(`snapshot.nodes[${i}]: path ${check.node.path} repeats`);
    seen.add(check.node.path);
    nodes.push(check.node);
  }
  return { version: s.version, vnodeCount: s.vnodeCount, hash: s.hash, nodes };
}
