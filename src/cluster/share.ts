// The primary side over node:cluster: one TableFeed, one Link per worker that joins, STATUS on every
// status change and as a heartbeat.
import nodeCluster, { type Worker } from 'node:cluster';
import type { SessionState } from '../metrics.js';
import { Nodes } from '../nodes/table.js';
import { TableFeed } from './feed.js';
import type { Link } from './outbox.js';
import { type ClusterStatus, isClusterMessage } from './protocol.js';

/** A discovery client (ZkClient) or anything shaped like it: the table plus the session status. */
export interface StatusSource {
  readonly nodes: Nodes;
  readonly state: SessionState;
  readonly self: string | null;
  readonly healthy: boolean;
  on(event: 'state' | 'registered', listener: () => void): unknown;
  off(event: 'state' | 'registered', listener: () => void): unknown;
}

/** The parts of node:cluster the primary uses. */
export interface ClusterLike {
  on(event: 'message', listener: (worker: Worker, msg: unknown) => void): unknown;
  on(event: 'exit', listener: (worker: Worker) => void): unknown;
  off(event: 'message', listener: (worker: Worker, msg: unknown) => void): unknown;
  off(event: 'exit', listener: (worker: Worker) => void): unknown;
}

export interface ShareOptions {
  /** Defaults to node:cluster. */
  cluster?: ClusterLike;
  /** STATUS heartbeat (ms, default 1000; 0: none). It lets a replica that lost the last delta notice. */
  heartbeatMs?: number;
}

export interface TableShare {
  /** Workers that joined and have not exited. */
  readonly workers: number;
  /** Messages held back for workers whose channel is busy (a pending snapshot counts as one). */
  readonly backlog: number;
  /** Stops sharing; replicas keep their last content. */
  close(): void;
}

/** A plain table has no session: it is always reported ready. */
const TABLE_STATUS: ClusterStatus = { state: 'CONNECTED', self: null, healthy: true };

/** Shares `source`'s table and status with every cluster worker that calls joinNodeTable(). */
export function shareNodeTable(source: Nodes | StatusSource, opts: ShareOptions = {}): TableShare {
  const cluster = opts.cluster ?? nodeCluster;
  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const status = (): ClusterStatus =>
    source instanceof Nodes
      ? TABLE_STATUS
      : { state: source.state, self: source.self, healthy: source.healthy };
  const feed = new TableFeed(source instanceof Nodes ? source : source.nodes, status);
  const links = new Map<Worker, Link>();

  const onMessage = (worker: Worker, msg: unknown): void => {
    if (!isClusterMessage(msg) || msg.kind !== 'SYNC') return;
    let link = links.get(worker);
    if (link === undefined) {
      link = { send: (m, done) => worker.send(m, done) };
      links.set(worker, link);
    }
    feed.receive(link, msg);
  };
  const onExit = (worker: Worker): void => {
    const link = links.get(worker);
    if (link === undefined) return;
    links.delete(worker);
    feed.drop(link);
  };
  // Not every status field change has an event of its own; send only real changes.
  let lastStatus = status();
  const onStatus = (): void => {
    const next = status();
    if (
      next.state === lastStatus.state &&
      next.self === lastStatus.self &&
      next.healthy === lastStatus.healthy
    )
      return;
    lastStatus = next;
    feed.sendStatus();
  };

  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  if (!(source instanceof Nodes)) {
    source.on('state', onStatus);
    source.on('registered', onStatus);
  }
  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          lastStatus = status();
          feed.sendStatus();
        }, heartbeatMs).unref()
      : undefined;

  return {
    get workers() {
      return feed.size;
    },
    get backlog() {
      return feed.backlog;
    },
    close() {
      clearInterval(heartbeat);
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      if (!(source instanceof Nodes)) {
        source.off('state', onStatus);
        source.off('registered', onStatus);
      }
      feed.close();
      links.clear();
    },
  };
}
