// The messages zkbio sends over the node:cluster IPC channel. Node serialises them as JSON, so they
// are plain data. Every one carries `zkbio: 1`: that is how both sides tell them from the user's own
// IPC messages on the same channel, which zkbio leaves alone (and the user should skip ours).
import type { SessionState } from '../metrics.js';
import type { NodesSnapshot, SnapshotRow } from '../nodes/snapshot.js';

/** What a worker needs to answer /healthz and /nodes as the primary would. */
export interface ClusterStatus {
  state: SessionState;
  /** The primary's own registration znode, or null while not registered. */
  self: string | null;
  /** Connected and registered. */
  healthy: boolean;
}

/** Add or update one node (an upsert). `version` is the primary's table version after it. */
export interface AddMessage {
  zkbio: 1;
  kind: 'ADD';
  version: number;
  node: SnapshotRow;
  /** The node's ring points as the primary's table holds them (see points.ts); absent for a shadowed node. */
  points?: string;
}

/** Delete one node by path. */
export interface DelMessage {
  zkbio: 1;
  kind: 'DEL';
  version: number;
  path: string;
}

/** The whole table and the status: a worker's first message, and the answer to a SYNC that is behind. */
export interface SnapshotMessage {
  zkbio: 1;
  kind: 'SNAPSHOT';
  snapshot: NodesSnapshot;
  status: ClusterStatus;
  /** Ring points (points.ts) of `snapshot.nodes[i]`, or null for a node that does not serve; absent: none sent. */
  points?: (string | null)[];
}

/**
 * The status, and the primary's version when it was sent: on status changes, as a heartbeat (so a
 * replica that lost the last delta notices), and as the answer to a SYNC that is already current.
 */
export interface StatusMessage {
  zkbio: 1;
  kind: 'STATUS';
  version: number;
  status: ClusterStatus;
}

/** Worker → primary: "I hold this version" (null: nothing yet, i.e. joining). */
export interface SyncMessage {
  zkbio: 1;
  kind: 'SYNC';
  version: number | null;
}

export type PrimaryMessage = AddMessage | DelMessage | SnapshotMessage | StatusMessage;
export type WorkerMessage = SyncMessage;
export type ClusterMessage = PrimaryMessage | WorkerMessage;

const KINDS = new Set<string>(['ADD', 'DEL', 'SNAPSHOT', 'STATUS', 'SYNC']);

/** True for zkbio's own IPC messages; a user's `message` handler can skip these. */
export function isClusterMessage(msg: unknown): msg is ClusterMessage {
  if (typeof msg !== 'object' || msg === null) return false;
  const m = msg as { zkbio?: unknown; kind?: unknown };
  return m.zkbio === 1 && typeof m.kind === 'string' && KINDS.has(m.kind);
}
