// zkbio's config schema: the shape of config.json, its defaults, and the validated ZkbioConfig it becomes. It is
// checked before any thread or socket starts: kimserver validated its config inside the background thread, so a
// bad one retried forever (defect 7); here a bad field fails fast and names itself. Reading the file is
// config_file.ts; the ZooKeeper paths, names and hosts are config_zk.ts.
import { ConfigError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import {
  bool,
  digestAuth,
  editDistance,
  given,
  int,
  isPlainObject,
  type Obj,
  oneOf,
  own,
  quote,
  ringBytes,
  type ZkAuth,
} from './config_values.js';
import {
  advertisedHost,
  connectString,
  name,
  nameList,
  overlaps,
  port,
  root,
  type ZkServer,
} from './config_zk.js';

export type { ZkAuth } from './config_values.js';
export type { ZkServer } from './config_zk.js';

/**
 * The validated, normalised config. It is deeply frozen plain data, so it can be handed to a worker thread
 * as is. Mapping from config.json (kimserver's keys first, then zkbio's additions):
 *
 * | config.json                               | ZkbioConfig                          | default                |
 * |-------------------------------------------|--------------------------------------|------------------------|
 * | `server_name`                             | `serverName`                         | required               |
 * | `node_type`                               | `nodeType`                           | required               |
 * | `node_host`                               | `nodeHost`                           | required               |
 * | `node_port` (number or numeric string)    | `nodePort` (number)                  | required               |
 * | `worker_cnt`                              | `workerCnt`                          | required               |
 * | `zookeeper.servers`                       | `zookeeper.servers`, `.hosts`, `.chroot` | "127.0.0.1:2181"   |
 * | `zookeeper.nodes.root`                    | `zookeeper.nodesRoot`                | "/kimserver/nodes"     |
 * | `zookeeper.nodes.subscribe_node_type`     | `zookeeper.subscribeNodeTypes`       | ["gate", "logic"]      |
 * | `zookeeper.payload.root`                  | `zookeeper.payloadRoot`              | "/kimserver/payload"   |
 * | `zookeeper.session_timeout` (ms)          | `zookeeper.sessionTimeoutMs`         | 10000                  |
 * | `zookeeper.connect_timeout` (ms)          | `zookeeper.connectTimeoutMs`         | 10000                  |
 * | `zookeeper.call_timeout` (ms)             | `zookeeper.callTimeoutMs`            | 10000                  |
 * | `zookeeper.payload_interval` (ms)         | `zookeeper.payloadIntervalMs`        | 1000                   |
 * | `zookeeper.max_node_bytes`                | `zookeeper.maxNodeBytes`             | 65536                  |
 * | `zookeeper.persistent_watches`            | `zookeeper.persistentWatches`        | true                   |
 * | `zookeeper.auth` ("user:password")        | `zookeeper.auth` ({scheme,user,password}) | null (no auth)    |
 * | `zookeeper.log_level` (a pino level)      | `zookeeper.logLevel`                 | "info"                 |
 * | `bio.max_acks_per_tick`                   | `bio.maxAcksPerTick`                 | 100                    |
 * | `bio.tick_ms`                             | `bio.tickMs`                         | 10 (doorbell), else 1  |
 * | `bio.doorbell`                            | `bio.doorbell`                       | true                   |
 * | `bio.task_ring_bytes` (power of two)      | `bio.taskRingBytes`                  | 262144 (256 KiB)       |
 * | `bio.ack_ring_bytes` (power of two)       | `bio.ackRingBytes`                   | 4194304 (4 MiB)        |
 * | `metrics.default_metrics`                 | `metrics.defaultMetrics`             | true                   |
 *
 * Keys zkbio does not know are ignored and listed in `warnings` (with a "did you mean" for likely typos),
 * except kimserver's own keys that are none of discovery's business (`log_path`, `redis`, `gate_port`, …).
 */
export interface ZkbioConfig {
  readonly serverName: string;
  readonly nodeType: string;
  readonly nodeHost: string;
  readonly nodePort: number;
  readonly workerCnt: number;
  readonly zookeeper: {
    /** The connect string, normalised: every server with its port, then the chroot if any. */
    readonly servers: string;
    readonly hosts: readonly ZkServer[];
    /** The chroot suffix of `servers`, e.g. "/apps/kim"; null when there is none. */
    readonly chroot: string | null;
    readonly nodesRoot: string;
    readonly subscribeNodeTypes: readonly string[];
    readonly payloadRoot: string;
    /**
     * Requested session timeout. The server clamps it to [2, 20] × its tickTime (4 s..40 s with the default
     * tickTime of 2000 ms), so the negotiated value can differ; the session reports what was granted.
     */
    readonly sessionTimeoutMs: number;
    /** How long one connect attempt may take before it is reported and retried with backoff. */
    readonly connectTimeoutMs: number;
    /** How long one ZooKeeper call may take before it fails with a timeout. */
    readonly callTimeoutMs: number;
    /** The payload node is written at most once per this interval. */
    readonly payloadIntervalMs: number;
    /** Peer data larger than this is skipped as bad data. */
    readonly maxNodeBytes: number;
    /**
     * Follow each subscribed type with one persistent recursive watch (ZooKeeper 3.6+ addWatch; a server
     * without it falls back by itself), or false for one-shot watches only.
     */
    readonly persistentWatches: boolean;
    readonly auth: ZkAuth | null;
    readonly logLevel: LogLevel;
  };
  readonly bio: {
    /** At most this many acks are applied per drain slice, so an event storm cannot stall the main loop. */
    readonly maxAcksPerTick: number;
    /**
     * Period of the drain timer. With the doorbell it is only the backstop, so 10 ms; without it, the timer is
     * the drain, so 1 ms.
     */
    readonly tickMs: number;
    /** Also wake the drain with Atomics.waitAsync when the worker rings, rather than waiting for the timer. */
    readonly doorbell: boolean;
    readonly taskRingBytes: number;
    readonly ackRingBytes: number;
  };
  readonly metrics: {
    /** prom-client's default metrics (process CPU and memory, GC, event-loop lag) in the same registry. */
    readonly defaultMetrics: boolean;
  };
  /** Ignored keys, one readable sentence each; worth logging at warn. */
  readonly warnings: readonly string[];
}

/** The pseudo-field for a config that is not a JSON object at all. */
export const ROOT_FIELD = '(root)';

const MAX_WORKERS = 256;
/** kimserver's defaults, which the operator commands share. */
export const DEFAULT_NODES_ROOT = '/kimserver/nodes';
export const DEFAULT_MAX_NODE_BYTES = 64 << 10;

const KNOWN = {
  '': ['server_name', 'node_type', 'node_host', 'node_port', 'worker_cnt', 'zookeeper', 'bio', 'metrics'],
  zookeeper: [
    'servers',
    'nodes',
    'payload',
    'session_timeout',
    'connect_timeout',
    'call_timeout',
    'payload_interval',
    'max_node_bytes',
    'persistent_watches',
    'auth',
    'log_level',
  ],
  'zookeeper.nodes': ['root', 'subscribe_node_type'],
  'zookeeper.payload': ['root'],
  bio: ['max_acks_per_tick', 'tick_ms', 'doorbell', 'task_ring_bytes', 'ack_ring_bytes'],
  metrics: ['default_metrics'],
} as const;

// kimserver's documented config.json keys that belong to the rest of the server: accepted without a warning,
// so that a kimserver config does not greet every start with noise.
const KIMSERVER_OTHER: Record<string, readonly string[]> = {
  '': [
    'gate_host',
    'gate_port',
    'gate_codec',
    'keep_alive',
    'log_path',
    'log_level',
    'modules',
    'redis',
    'database',
  ],
  zookeeper: ['log_path'],
};

/**
 * Validates a parsed config.json. Throws ConfigError naming the first wrong field (dotted path, e.g.
 * `zookeeper.nodes.subscribe_node_type[1]`), what is wrong and what was given; the auth value is never quoted.
 */
export function parseConfig(raw: unknown): ZkbioConfig {
  const warnings: string[] = [];
  const top = section(raw, ROOT_FIELD, '', warnings);
  const zk = section(own(top, 'zookeeper'), 'zookeeper', 'zookeeper', warnings);
  const zkNodes = section(own(zk, 'nodes'), 'zookeeper.nodes', 'zookeeper.nodes', warnings);
  const zkPayload = section(own(zk, 'payload'), 'zookeeper.payload', 'zookeeper.payload', warnings);
  const bioRaw = section(own(top, 'bio'), 'bio', 'bio', warnings);
  const metricsRaw = section(own(top, 'metrics'), 'metrics', 'metrics', warnings);

  const serverName = name(own(top, 'server_name'), 'server_name', 'a server name such as "kim-gate"');
  const nodeType = name(own(top, 'node_type'), 'node_type', 'a node type such as "gate"');
  const nodeHost = advertisedHost(own(top, 'node_host'), 'node_host');
  const nodePort = port(own(top, 'node_port'), 'node_port');
  const workerCnt = int(own(top, 'worker_cnt'), 'worker_cnt', 1, MAX_WORKERS, undefined, '');

  const { servers, hosts, chroot } = connectString(own(zk, 'servers'), 'zookeeper.servers');
  const nodesRoot = root(own(zkNodes, 'root'), 'zookeeper.nodes.root', DEFAULT_NODES_ROOT, chroot);
  const subscribeNodeTypes = nameList(
    own(zkNodes, 'subscribe_node_type'),
    'zookeeper.nodes.subscribe_node_type',
  );
  const payloadRoot = root(own(zkPayload, 'root'), 'zookeeper.payload.root', '/kimserver/payload', chroot);
  if (overlaps(nodesRoot, payloadRoot)) {
    throw new ConfigError(
      'zookeeper.payload.root',
      `must not be, contain or lie inside zookeeper.nodes.root (${quote(nodesRoot)}): subscribers would read ` +
        `payload nodes as peers; got ${quote(payloadRoot)}`,
    );
  }

  const ms = ' (milliseconds)';
  const sessionTimeoutMs = int(
    own(zk, 'session_timeout'),
    'zookeeper.session_timeout',
    1000,
    600_000,
    10_000,
    ms,
  );
  const connectTimeoutMs = int(
    own(zk, 'connect_timeout'),
    'zookeeper.connect_timeout',
    100,
    600_000,
    10_000,
    ms,
  );
  const callTimeoutMs = int(own(zk, 'call_timeout'), 'zookeeper.call_timeout', 100, 600_000, 10_000, ms);
  const payloadIntervalMs = int(
    own(zk, 'payload_interval'),
    'zookeeper.payload_interval',
    100,
    3_600_000,
    1000,
    ms,
  );
  // ZooKeeper's default jute.maxbuffer refuses znodes of about 1 MiB and more.
  const maxNodeBytes = int(
    own(zk, 'max_node_bytes'),
    'zookeeper.max_node_bytes',
    256,
    1 << 20,
    DEFAULT_MAX_NODE_BYTES,
    ' bytes',
  );
  const persistentWatches = bool(own(zk, 'persistent_watches'), 'zookeeper.persistent_watches', true);
  const auth = digestAuth(own(zk, 'auth'), 'zookeeper.auth');
  const logLevel = oneOf(own(zk, 'log_level'), 'zookeeper.log_level', LOG_LEVELS, 'info');

  const maxAcksPerTick = int(own(bioRaw, 'max_acks_per_tick'), 'bio.max_acks_per_tick', 1, 100_000, 100, '');
  const doorbell = bool(own(bioRaw, 'doorbell'), 'bio.doorbell', true);
  // With the doorbell the timer is only a backstop: a 1 ms interval would wake every process 1,000 times a second.
  const tickMs = int(own(bioRaw, 'tick_ms'), 'bio.tick_ms', 1, 1000, doorbell ? 10 : 1, ms);
  const taskRingBytes = ringBytes(own(bioRaw, 'task_ring_bytes'), 'bio.task_ring_bytes', 256 << 10);
  const ackRingBytes = ringBytes(own(bioRaw, 'ack_ring_bytes'), 'bio.ack_ring_bytes', 4 << 20);
  const defaultMetrics = bool(own(metricsRaw, 'default_metrics'), 'metrics.default_metrics', true);
  // A peer's data crosses the ack ring in one record, and a record must fit with room to spare.
  if (ackRingBytes < 2 * maxNodeBytes) {
    throw new ConfigError(
      'bio.ack_ring_bytes',
      `must be at least twice zookeeper.max_node_bytes (${maxNodeBytes}), so that the largest peer data fits; ` +
        `got ${ackRingBytes}`,
    );
  }

  return Object.freeze({
    serverName,
    nodeType,
    nodeHost,
    nodePort,
    workerCnt,
    zookeeper: Object.freeze({
      servers,
      hosts,
      chroot,
      nodesRoot,
      subscribeNodeTypes,
      payloadRoot,
      sessionTimeoutMs,
      connectTimeoutMs,
      callTimeoutMs,
      payloadIntervalMs,
      maxNodeBytes,
      persistentWatches,
      auth,
      logLevel,
    }),
    bio: Object.freeze({ maxAcksPerTick, tickMs, doorbell, taskRingBytes, ackRingBytes }),
    metrics: Object.freeze({ defaultMetrics }),
    warnings: Object.freeze(warnings),
  });
}

/** A section (object) of the config; absent means empty. Unknown keys are noted in `warnings`. */
function section(v: unknown, field: string, knownKey: keyof typeof KNOWN, warnings: string[]): Obj {
  if (v === undefined && field !== ROOT_FIELD) return {};
  if (!isPlainObject(v)) throw new ConfigError(field, `must be a JSON object; ${given(v)}`);
  const known: readonly string[] = KNOWN[knownKey];
  const quiet = KIMSERVER_OTHER[knownKey] ?? [];
  const prefix = knownKey === '' ? '' : `${knownKey}.`;
  for (const key of Object.keys(v)) {
    if (known.includes(key) || quiet.includes(key)) continue;
    const near = known.find((k) => editDistance(k, key) <= Math.min(2, Math.floor(k.length / 3)));
    const hint = near ? ` (did you mean ${quote(prefix + near)}?)` : '';
    warnings.push(`unknown config key ${quote(prefix + key)} is ignored${hint}`);
  }
  return v;
}
