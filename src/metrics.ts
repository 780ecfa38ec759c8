// zkbio's Prometheus metrics. Each call makes its own Registry rather than using prom-client's global one, so
// several zkbio instances (or a host app with metrics of its own) can live in one process without name clashes.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Session states as /healthz, /nodes and the session-state gauge report them. */
export const SESSION_STATES = [
  'CONNECTING',
  'CONNECTED',
  'SUSPENDED',
  'LOST',
  'EXPIRED',
  'AUTH_FAILED',
  'CLOSED',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export interface Metrics {
  /** The registry behind render(); add your own metrics to it. */
  readonly registry: Registry;
  /** `zkbio_session_state{state}`: 1 for the current state, 0 for every other. Set it through setSessionState. */
  readonly sessionState: Gauge<'state'>;
  setSessionState(state: SessionState): void;
  /** `zkbio_table_nodes{type}`: nodes in the table per node type. */
  readonly tableNodes: Gauge<'type'>;
  /** `zkbio_table_version`: the table's version counter, which goes up on every real change. */
  readonly tableVersion: Gauge;
  /** `zkbio_ack_drain_latency_seconds`: from an ack written by the bio worker to its handling on the main loop. */
  readonly ackDrainLatency: Histogram;
  /** `zkbio_drain_slice_duration_seconds`: how long each drain slice that applied acks held the main loop. */
  readonly drainSliceDuration: Histogram;
  /** `zkbio_ring_used_bytes{ring="task"|"ack"}`: bytes waiting in each ring. */
  readonly ringUsedBytes: Gauge<'ring'>;
  /** `zkbio_ring_capacity_bytes{ring}`: each ring's size, so that used/capacity gives how full it is. */
  readonly ringCapacityBytes: Gauge<'ring'>;
  /** `zkbio_tasks_total{cmd}`: tasks queued to the bio worker. */
  readonly tasksTotal: Counter<'cmd'>;
  /** `zkbio_acks_total{cmd}`: acks handled on the main loop. */
  readonly acksTotal: Counter<'cmd'>;
  /** `zkbio_queue_full_total`: tasks refused because the task ring was full. */
  readonly queueFullTotal: Counter;
  /** `zkbio_bad_peer_data_total{reason}`: peer znodes skipped (not JSON, missing fields, too large, …). */
  readonly badPeerDataTotal: Counter<'reason'>;
  /** `zkbio_listener_errors_total{event}`: user event listeners that threw (logged; the others still ran). */
  readonly listenerErrorsTotal: Counter<'event'>;
  /** `zkbio_registrations_total`: own node registrations, the first one included. */
  readonly registrationsTotal: Counter;
  /** `zkbio_session_expiries_total`. */
  readonly sessionExpiriesTotal: Counter;
  /** `zkbio_registration_repairs_total{repair}`: what re-registering had to put right (an OwnNodeRepair). */
  readonly registrationRepairsTotal: Counter<'repair'>;
  /** Content-Type header for render()'s text. */
  readonly contentType: string;
  /** The Prometheus text exposition of every metric in `registry`. */
  render(): Promise<string>;
}

export interface MetricsOptions {
  /**
   * prom-client's default metrics (process CPU and memory, GC, event-loop lag: `process_*`, `nodejs_*`) in
   * the same registry. Default true; config.json's `metrics.default_metrics`.
   */
  defaultMetrics?: boolean;
}

// Draining one ack takes microseconds when the loop is idle and up to a tick or more under load, and a slice
// is bounded at about 1 ms, so the buckets run roughly 1-2.5-5 per decade from 10 µs to 1 s.
const LATENCY_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1,
];

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const sessionState = new Gauge({
    name: 'zkbio_session_state',
    help: 'ZooKeeper session state: 1 for the current state, 0 for the others',
    labelNames: ['state'] as const,
    registers,
  });
  // Every state is exported from the start, so a query for a state that never happened returns 0, not nothing.
  for (const state of SESSION_STATES) sessionState.set({ state }, 0);

  const ringUsedBytes = new Gauge({
    name: 'zkbio_ring_used_bytes',
    help: 'Bytes waiting in the task ring (main to bio worker) and the ack ring (bio worker to main)',
    labelNames: ['ring'] as const,
    registers,
  });
  const ringCapacityBytes = new Gauge({
    name: 'zkbio_ring_capacity_bytes',
    help: 'Size of the task and ack rings in bytes',
    labelNames: ['ring'] as const,
    registers,
  });

  return {
    registry,
    sessionState,
    setSessionState(current: SessionState): void {
      for (const state of SESSION_STATES) sessionState.set({ state }, state === current ? 1 : 0);
    },
    tableNodes: new Gauge({
      name: 'zkbio_table_nodes',
      help: 'Nodes in the node table, per node type',
      labelNames: ['type'] as const,
      registers,
    }),
    tableVersion: new Gauge({
      name: 'zkbio_table_version',
      help: 'Version of the node table; it goes up on every real change',
      registers,
    }),
    ackDrainLatency: new Histogram({
      name: 'zkbio_ack_drain_latency_seconds',
      help: 'Time from an ack written by the bio worker to its handling on the main event loop',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    drainSliceDuration: new Histogram({
      name: 'zkbio_drain_slice_duration_seconds',
      help: 'How long one drain slice that applied acks held the main event loop',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    ringUsedBytes,
    ringCapacityBytes,
    tasksTotal: new Counter({
      name: 'zkbio_tasks_total',
      help: 'Tasks queued to the bio worker, per command',
      labelNames: ['cmd'] as const,
      registers,
    }),
    acksTotal: new Counter({
      name: 'zkbio_acks_total',
      help: 'Acks handled on the main event loop, per command',
      labelNames: ['cmd'] as const,
      registers,
    }),
    queueFullTotal: new Counter({
      name: 'zkbio_queue_full_total',
      help: 'Tasks refused with QueueFullError because the task ring was full',
      registers,
    }),
    badPeerDataTotal: new Counter({
      name: 'zkbio_bad_peer_data_total',
      help: 'Peer znodes skipped because their data was unusable, per reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    listenerErrorsTotal: new Counter({
      name: 'zkbio_listener_errors_total',
      help: 'Discovery event listeners that threw; the error was logged and the other listeners still ran',
      labelNames: ['event'] as const,
      registers,
    }),
    registrationsTotal: new Counter({
      name: 'zkbio_registrations_total',
      help: 'Registrations of this node in ZooKeeper, the first one included',
      registers,
    }),
    sessionExpiriesTotal: new Counter({
      name: 'zkbio_session_expiries_total',
      help: 'ZooKeeper sessions that expired',
      registers,
    }),
    registrationRepairsTotal: new Counter({
      name: 'zkbio_registration_repairs_total',
      help: 'Repairs of the own registration: recreated, data, payload, stale_payload, stale_session',
      labelNames: ['repair'] as const,
      registers,
    }),
    contentType: registry.contentType,
    render: () => registry.metrics(),
  };
}
