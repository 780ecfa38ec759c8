// Applying the primary's messages to a replica table: a function of (table, message) with no I/O,
// so the whole replication rule can be tested in-process.
import type { Nodes } from '../nodes/table.js';
import { decodePoints } from './points.js';
import type { PrimaryMessage, SnapshotMessage } from './protocol.js';

/**
 * - `applied`: the table now is at the message's version (for STATUS: already was);
 * - `stale`: the table is already past it (a duplicate or a delta a snapshot covered), ignored;
 * - `gap`: the table missed something, or the message is malformed: ask for a snapshot.
 */
export type ApplyResult = 'applied' | 'stale' | 'gap';

export function applyMessage(nodes: Nodes, msg: PrimaryMessage): ApplyResult {
  switch (msg.kind) {
    case 'SNAPSHOT': {
      const version = msg.snapshot?.version;
      if (typeof version !== 'number') return 'gap';
      // Older than the table: restoring it would roll content back under a newer version number.
      if (version < nodes.version) return 'stale';
      try {
        nodes.restore(msg.snapshot, snapshotPoints(msg));
      } catch {
        return 'gap';
      }
      return nodes.version === version ? 'applied' : 'gap';
    }
    case 'STATUS':
      return order(nodes, msg.version, msg.version);
    case 'ADD':
    case 'DEL': {
      // Each delta is exactly one step of the primary's version, so it applies only on its base.
      const seen = order(nodes, msg.version - 1, msg.version);
      if (seen !== 'applied') return seen;
      if (msg.kind === 'DEL') {
        if (typeof msg.path !== 'string') return 'gap';
        nodes.remove(msg.path);
      } else {
        if (!Array.isArray(msg.node)) return 'gap';
        const [path, type, host, port, worker_cnt, active_time] = msg.node;
        const node = { path, type, host, port, worker_cnt, active_time };
        // The primary's points spare the MD5s; points of a wrong shape make the upsert refuse: a gap.
        if (!nodes.upsert(node, decodePoints(msg.points, worker_cnt)).ok) return 'gap';
      }
      // The same write on the same content bumps the version by one as well; this only makes sure.
      nodes.advanceVersion(msg.version);
      return nodes.version === msg.version ? 'applied' : 'gap';
    }
    default:
      return 'gap';
  }
}

/** The snapshot's points by path; restore() checks each one's shape and computes what is missing. */
function snapshotPoints(msg: SnapshotMessage): Map<string, Uint32Array[]> | undefined {
  const rows = msg.snapshot.nodes;
  if (!Array.isArray(msg.points) || !Array.isArray(rows) || msg.points.length !== rows.length)
    return undefined;
  const byPath = new Map<string, Uint32Array[]>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const points = Array.isArray(row) ? decodePoints(msg.points[i], row[4]) : undefined;
    if (points !== undefined && typeof row[0] === 'string') byPath.set(row[0], points);
  }
  return byPath;
}

/** Where a message based on `base` and leading to `version` stands against the table. */
function order(nodes: Nodes, base: number, version: number): ApplyResult {
  if (!Number.isSafeInteger(version)) return 'gap';
  if (version <= nodes.version && base < nodes.version) return 'stale';
  return base === nodes.version ? 'applied' : 'gap';
}
