/**
 * /ring: how the 32-bit key space is split between the ring members of each type, computed from the table's
 * rings on request (O(points); nothing is kept).
 */
import type { Nodes } from '../nodes/table.js';

interface RingMemberShare {
  /** "host:port.workerIndex", the member id kimserver hashes. */
  id: string;
  host: string;
  port: number;
  worker_index: number;
  /** Key hashes (of 2^32) this member serves. */
  keys: number;
  /** keys / 2^32. */
  share: number;
}

interface RingShares {
  points: number;
  members: RingMemberShare[];
}

const KEY_SPACE = 2 ** 32;

/** Per type with a ring (or just `type`), its members in ring insertion order with their shares. */
export function ringShares(nodes: Nodes, type?: string): Record<string, RingShares> {
  const types = type === undefined ? new Set(nodes.list().map((n) => n.type)) : [type];
  const out: Record<string, RingShares> = {};
  for (const t of types) {
    const shares = nodes.keyShares(t);
    if (shares.length === 0) continue;
    out[t] = {
      points: nodes.pointCount(t),
      members: shares.map(({ member, keys }) => ({
        id: member.id,
        host: member.host,
        port: member.port,
        worker_index: member.workerIndex,
        keys,
        share: keys / KEY_SPACE,
      })),
    };
  }
  return out;
}
