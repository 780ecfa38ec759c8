/**
 * What the status page polls about every second and only the primary knows: the subscribed types, when the
 * table last changed, the bad peer data, the ack-drain histogram and the queue depths. It is read from the
 * ZkClient and its metrics when asked, never kept up to date in the background; the one thing tracked is
 * the time of the table's last change (a timestamp per change event).
 */
import type { BadPeer } from '../discovery/bad_peers.js';
import type { ZkClient } from '../discovery/zk_client.js';

/** At most this many bad peers are listed; `bad_total` counts them all. */
const MAX_BAD_LISTED = 100;

export interface LiveStatus {
  /** The node types this node subscribes to, listed or not. */
  types: string[];
  /** When the serving view of the table last changed (ms since the epoch), null before the first change. */
  changed_at: number | null;
  bad: BadPeer[];
  bad_total: number;
  /**
   * `zkbio_ack_drain_latency_seconds` as per-bucket counts (not cumulative): `counts[i]` acks took at most
   * `le[i]` seconds (and more than `le[i - 1]`), the one extra last count more than every bound (JSON has no
   * Infinity).
   */
  drain: { le: number[]; counts: number[]; count: number; sum_s: number };
  /** `zkbio_ring_used_bytes` and `zkbio_ring_capacity_bytes` per ring, and `zkbio_queue_full_total`. */
  queues: { task: RingDepth; ack: RingDepth; full_total: number };
}

interface RingDepth {
  used: number;
  capacity: number;
}

/** Starts tracking the table's last change; the returned function reads the rest when called. */
export function liveStatusOf(client: ZkClient): () => Promise<LiveStatus> {
  let changedAt: number | null = null;
  client.nodes.on('change', () => {
    changedAt = Date.now();
  });
  return async () => {
    const bad = client.badPeers;
    client.refreshQueueMetrics();
    const m = client.metrics;
    const [drain, used, capacity, full] = await Promise.all([
      m.ackDrainLatency.get(),
      m.ringUsedBytes.get(),
      m.ringCapacityBytes.get(),
      m.queueFullTotal.get(),
    ]);
    const ring = (name: string): RingDepth => ({
      used: used.values.find((v) => v.labels.ring === name)?.value ?? 0,
      capacity: capacity.values.find((v) => v.labels.ring === name)?.value ?? 0,
    });
    return {
      types: [...client.config.zookeeper.subscribeNodeTypes],
      changed_at: changedAt,
      bad: bad.slice(0, MAX_BAD_LISTED),
      bad_total: bad.length,
      drain: histogram(drain.values),
      queues: { task: ring('task'), ack: ring('ack'), full_total: full.values[0]?.value ?? 0 },
    };
  };
}

interface HistogramValue {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

/** prom-client's cumulative `_bucket` values, `_sum` and `_count`, as per-bucket counts. */
function histogram(values: readonly HistogramValue[]): LiveStatus['drain'] {
  const buckets = values
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ le: v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le), n: v.value }))
    .sort((a, b) => a.le - b.le);
  let below = 0;
  const counts = buckets.map((b) => {
    const n = b.n - below;
    below = b.n;
    return n;
  });
  return {
    le: buckets.filter((b) => b.le !== Number.POSITIVE_INFINITY).map((b) => b.le),
    counts,
    count: values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0,
    sum_s: values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0,
  };
}
