/**
 * Sharing the node table with node:cluster workers: one ZooKeeper session in the primary, a replica
 * of its table in every worker, which answers lookups locally.
 *
 * ```ts
 * // primary
 * const discovery = startDiscovery(config);          // or a plain `Nodes` table
 * const share = shareNodeTable(discovery);            // before or after forking, either works
 * for (let i = 0; i < config.worker_cnt; i++) cluster.fork();
 *
 * // worker
 * const replica = await joinNodeTable();              // resolves once the first snapshot is applied
 * replica.nodes.getNodeInHash('logic', userId);      // same answer as the primary's table, collisions included
 * replica.status;                                     // { state, self, healthy }: for /healthz and /nodes
 * replica.on('added' | 'removed' | 'changed' | 'status', ...);
 * ```
 *
 * **Primary.** `shareNodeTable(source, { cluster?, heartbeatMs? }): TableShare`
 * - `source` is a discovery client (ZkClient: its `nodes`, `state`, `self`, `healthy` and its
 *   `'state'`/`'registered'` events) or a plain `Nodes` table (status: CONNECTED, self null, healthy).
 * - `TableShare`: `workers` (joined workers), `backlog` (messages held for busy channels), `close()`.
 * - `heartbeatMs` (default 1000, 0 for none): a STATUS message to every worker, so a replica that lost
 *   the last delta notices, and a status field that changed without an event still reaches workers.
 *
 * **Worker.** `joinNodeTable({ timeoutMs = 10000, retryMs = 1000, channel = process }): Promise<Replica>`
 * - Rejects with a clear error when no snapshot comes within `timeoutMs` (no primary sharing).
 * - `Replica`: `nodes` (a `Nodes`; read it, do not write it), `status: ClusterStatus`, `close()` (stops
 *   following; the table keeps its last content), `sync()` (ask for a snapshot now; rarely needed), and
 *   the events `added(node)`, `removed(node)`, `changed({ old, new })` (as the primary's discovery
 *   emits them, for changes after the join) and `status(status, previous)`.
 *
 * **Messages** (node:cluster IPC, JSON). Every one has `zkbio: 1`: test `isClusterMessage(msg)` to
 * skip zkbio's in your own `message` handlers; zkbio ignores every message without it.
 * - primary → worker: `ADD {version, node, points?}` (add or update one node), `DEL {version, path}`,
 *   `SNAPSHOT {snapshot, status, points?}`, `STATUS {version, status}`;
 * - `points`: the serving nodes' ring points as the primary's table holds them, base64 of the Uint32Arrays
 *   (points.ts), so no worker runs the MD5s again; a replica without them, or with points of a wrong shape
 *   in a snapshot, computes its own.
 * - worker → primary: `SYNC {version}` (null when joining).
 *
 * **Versions.** `version` is the primary table's own counter, which replicas follow exactly (so a
 * restarted worker is never stuck comparing against itself, kimserver defect 5). A delta is one
 * version step and applies only on its base version; a replica that sees a gap sends SYNC and ignores
 * deltas until the answer: a SNAPSHOT when its version differs from the primary's, else a STATUS.
 * Deltas replay the primary's writes themselves, in order, so replicas insert ring members in the
 * primary's order and kimserver's first-insert-wins collisions come out the same.
 *
 * **Cost.** One small message per table change per worker in steady state; a snapshot only on join,
 * on a gap, after `clear()`/`restore()` in the primary, or for a worker whose backlog outgrew the table
 * (a busy IPC channel: see outbox.ts). A slow worker loses nothing.
 */
export type { ApplyResult } from './apply.js';
export { applyMessage } from './apply.js';
export type { JoinOptions } from './join.js';
export { joinNodeTable } from './join.js';
export type {
  AddMessage,
  ClusterMessage,
  ClusterStatus,
  DelMessage,
  PrimaryMessage,
  SnapshotMessage,
  StatusMessage,
  SyncMessage,
  WorkerMessage,
} from './protocol.js';
export { isClusterMessage } from './protocol.js';
export type { Channel, Replica, ReplicaEvents } from './replica.js';
export type { ClusterLike, ShareOptions, StatusSource, TableShare } from './share.js';
export { shareNodeTable } from './share.js';
