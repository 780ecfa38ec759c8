// Reads and validates zkbio's config before any thread or socket starts. kimserver validated its config inside
// the background thread, so a bad one retried forever (defect 7); here a bad field fails fast and names itself.
import { closeSync, openSync, readSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';

/** One ZooKeeper server from `zookeeper.servers`. */
export interface ZkServer {
  readonly host: string;
  readonly port: number;
}

/** Digest credentials from `zookeeper.auth` ("user:password", split at the first ":"). Never log this. */
export interface ZkAuth {
  readonly scheme: 'digest';
  readonly user: string;
  readonly password: string;
}

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
 * | `bio.tick_ms`                             | `bio.tickMs`                         | 1                      |
 * | `bio.doorbell`                            | `bio.doorbell`                       | true                   |
 * | `bio.task_ring_bytes` (power of two)      | `bio.taskRingBytes`                  | 262144 (256 KiB)       |
 * | `bio.ack_ring_bytes` (power of two)       | `bio.ackRingBytes`                   | 4194304 (4 MiB)        |
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
    /** Period of the drain timer. */
    readonly tickMs: number;
    /** Also wake the drain with Atomics.waitAsync when the worker rings, rather than waiting for the timer. */
    readonly doorbell: boolean;
    readonly taskRingBytes: number;
    readonly ackRingBytes: number;
  };
  /** Ignored keys, one readable sentence each; worth logging at warn. */
  readonly warnings: readonly string[];
}

/** The pseudo-field for errors about the file itself (unreadable, too big, not JSON). */
export const FILE_FIELD = '(file)';
/** The pseudo-field for a config that is not a JSON object at all. */
export const ROOT_FIELD = '(root)';

const MAX_FILE_BYTES = 1 << 20;
const MAX_NAME_LENGTH = 128;
const MAX_PATH_LENGTH = 1024;
const MAX_WORKERS = 256;
const DEFAULT_ZK_PORT = 2181;

const KNOWN = {
  '': ['server_name', 'node_type', 'node_host', 'node_port', 'worker_cnt', 'zookeeper', 'bio'],
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

type Obj = Record<string, unknown>;

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

  const serverName = name(own(top, 'server_name'), 'server_name', 'a server name such as "kim-gate"');
  const nodeType = name(own(top, 'node_type'), 'node_type', 'a node type such as "gate"');
  const nodeHost = advertisedHost(own(top, 'node_host'), 'node_host');
  const nodePort = port(own(top, 'node_port'), 'node_port');
  const workerCnt = int(own(top, 'worker_cnt'), 'worker_cnt', 1, MAX_WORKERS, undefined, '');

  const { servers, hosts, chroot } = connectString(own(zk, 'servers'), 'zookeeper.servers');
  const nodesRoot = root(own(zkNodes, 'root'), 'zookeeper.nodes.root', '/kimserver/nodes', chroot);
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
    64 << 10,
    ' bytes',
  );
  const persistentWatches = bool(own(zk, 'persistent_watches'), 'zookeeper.persistent_watches', true);
  const auth = digestAuth(own(zk, 'auth'), 'zookeeper.auth');
  const logLevel = oneOf(own(zk, 'log_level'), 'zookeeper.log_level', LOG_LEVELS, 'info');

  const maxAcksPerTick = int(own(bioRaw, 'max_acks_per_tick'), 'bio.max_acks_per_tick', 1, 100_000, 100, '');
  const tickMs = int(own(bioRaw, 'tick_ms'), 'bio.tick_ms', 1, 1000, 1, ms);
  const doorbell = bool(own(bioRaw, 'doorbell'), 'bio.doorbell', true);
  const taskRingBytes = ringBytes(own(bioRaw, 'task_ring_bytes'), 'bio.task_ring_bytes', 256 << 10);
  const ackRingBytes = ringBytes(own(bioRaw, 'ack_ring_bytes'), 'bio.ack_ring_bytes', 4 << 20);
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
    warnings: Object.freeze(warnings),
  });
}

/**
 * Reads and validates a config.json file. Errors about the file itself (missing, unreadable, over 1 MiB,
 * not JSON) use the field "(file)" and give the JSON error's line and column.
 */
export function loadConfigFile(path: string): ZkbioConfig {
  const text = readCapped(path).replace(/^\uFEFF/, ''); // editors on Windows like to prepend a BOM
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's message can quote the source around the error, auth password included: locate it ourselves.
    const err = findJsonError(text);
    const where = err ? ` at line ${lineCol(text, err.at)}: ${err.reason}` : '';
    throw new ConfigError(FILE_FIELD, `${quote(path)} is not valid JSON${where}`);
  }
  return parseConfig(raw);
}

// Reads at most MAX_FILE_BYTES + 1 bytes, so that a mistaken path (a log, /dev/zero) fails fast, while pipes
// such as `--config <(gen-config)` still work.
function readCapped(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ConfigError(FILE_FIELD, `${quote(path)} cannot be opened: ${ioReason(e)}`);
  }
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      n += r;
      if (r === 0 || n === buf.length) break;
    }
    if (n > MAX_FILE_BYTES) {
      throw new ConfigError(
        FILE_FIELD,
        `${quote(path)} is larger than ${MAX_FILE_BYTES} bytes: not a config file?`,
      );
    }
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(FILE_FIELD, `${quote(path)} cannot be read: ${ioReason(e)}`);
  } finally {
    closeSync(fd);
  }
}

function ioReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  return (code && known[code]) ?? code ?? String(e);
}

function lineCol(text: string, at: number): string {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `${line}, column ${at - before.lastIndexOf('\n')}`;
}

class JsonSyntax {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}

/** Offset and reason of the first syntax error in text; undefined if none is found (or nesting is absurd). */
function findJsonError(text: string): JsonSyntax | undefined {
  let i = 0;
  // Hand-edited configs most often break on comments and single quotes: say so.
  const fail = (reason: string): never => {
    const c = text[i];
    const hint = c === '/' || c === '#' ? ' (JSON has no comments)' : c === "'" ? ' (use double quotes)' : '';
    throw new JsonSyntax(i, reason + hint);
  };
  const unexpected = (): never =>
    fail(i >= text.length ? 'unexpected end of input' : `unexpected ${quote(text[i])}`);
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (c: string, reason: string) => {
    ws();
    if (text[i] !== c) fail(reason);
    i++;
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('raw control character in a string (escape it)');
      if (c !== 0x5c) i++;
      else if (text[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
      else if ('"\\/bfnrt'.includes(text[i + 1] ?? 'x')) i += 2;
      else fail('bad escape in a string');
    }
    i++;
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const scalar = () => {
    if (text[i] === '"') {
      string();
      return;
    }
    const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
    number.lastIndex = i;
    if (word) i += word.length;
    else if (number.test(text)) i = number.lastIndex;
    else unexpected();
  };
  const value = (depth: number): void => {
    if (depth > 1000) throw new JsonSyntax(-1, 'nested too deeply to locate the error');
    ws();
    const open = text[i];
    if (open !== '{' && open !== '[') {
      scalar();
      return;
    }
    const close = open === '{' ? '}' : ']';
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (let first = true; ; first = false) {
      ws();
      if (!first && text[i] === close) fail('trailing comma');
      if (close === '}') {
        if (text[i] !== '"') fail('expected a double-quoted property name');
        string();
        expect(':', 'expected ":"');
      }
      value(depth + 1);
      ws();
      if (text[i] === close) break;
      expect(',', `expected "," or "${close}"`);
    }
    i++;
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    if (e instanceof JsonSyntax && e.at >= 0) return e;
    return undefined;
  }
}

/** An own property only: a config key must never resolve to something inherited, such as `constructor`. */
function own(obj: Obj, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
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

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** Quotes a given string for a message: escaped, and cut short so a pasted blob does not flood the log. */
function quote(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${cut[i]}`;
    else if (refusedByZk(c)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += cut[i];
  }
  return `"${out}"`;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** What the config held, for a message. Never use it for a secret. */
function given(v: unknown): string {
  if (v === undefined) return 'it is missing';
  if (typeof v === 'string') return `got ${quote(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `got ${String(v)}`;
  return `got ${kind(v)}`;
}

/** The characters ZooKeeper's PathUtils refuses in a path, as UTF-16 code units (so any astral character). */
function refusedByZk(c: number): boolean {
  return c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0;
}

function refusedCharProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (refusedByZk(c)) {
      const code = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
      return `contains ${code} at index ${i}, which ZooKeeper refuses in paths (control, surrogate, private-use and U+FFF0..U+FFFF characters)`;
    }
  }
  return undefined;
}

/** A name used as a path segment: server_name, node_type, a subscribed type. */
function name(v: unknown, field: string, expect: string): string {
  if (v === undefined) throw new ConfigError(field, `is required: ${expect}`);
  if (typeof v !== 'string') throw new ConfigError(field, `must be a string, ${expect}; ${given(v)}`);
  const problem = nameProblem(v);
  if (problem) throw new ConfigError(field, `${problem}; ${given(v)}`);
  return v;
}

function nameProblem(v: string): string | undefined {
  if (v === '') return 'must not be empty';
  if (v.length > MAX_NAME_LENGTH)
    return `must be at most ${MAX_NAME_LENGTH} characters long (it is ${v.length})`;
  if (v.includes('/')) return 'must not contain "/": it becomes one segment of a znode path';
  if (v === '.' || v === '..') return 'must not be "." or "..": ZooKeeper refuses them as path segments';
  // Legal in ZooKeeper, but a peer that spells the type without it would never match.
  if (v.trim() !== v) return 'must not start or end with whitespace';
  return refusedCharProblem(v);
}

function nameList(v: unknown, field: string): readonly string[] {
  if (v === undefined) return Object.freeze(['gate', 'logic']);
  if (!Array.isArray(v)) {
    throw new ConfigError(
      field,
      `must be an array of node type names such as ["gate", "logic"]; ${given(v)}`,
    );
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    const t = name(item, `${field}[${i}]`, 'a node type such as "logic"');
    const first = out.indexOf(t);
    if (first >= 0) throw new ConfigError(`${field}[${i}]`, `repeats ${quote(t)}, already at index ${first}`);
    out.push(t);
  });
  return Object.freeze(out);
}

/** A znode path as ZooKeeper's PathUtils.validatePath accepts it, minus "/" itself. */
function znodePathProblem(p: string): string | undefined {
  if (p === '') return 'must not be empty';
  if (p.length > MAX_PATH_LENGTH)
    return `must be at most ${MAX_PATH_LENGTH} characters long (it is ${p.length})`;
  if (!p.startsWith('/')) return 'must be an absolute path starting with "/"';
  if (p === '/') return 'must not be "/" itself';
  if (p.endsWith('/')) return 'must not end with "/"';
  for (const segment of p.slice(1).split('/')) {
    if (segment === '') return 'must not contain an empty segment ("//")';
    if (segment === '.' || segment === '..') return `must not contain a "${segment}" segment`;
  }
  return refusedCharProblem(p);
}

function root(v: unknown, field: string, fallback: string, chroot: string | null): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string')
    throw new ConfigError(field, `must be a znode path string such as ${quote(fallback)}; ${given(v)}`);
  let problem = znodePathProblem(v);
  // Without a chroot, /zookeeper is the server's own reserved tree.
  if (!problem && chroot === null && (v === '/zookeeper' || v.startsWith('/zookeeper/'))) {
    problem = 'must not be inside /zookeeper, which ZooKeeper reserves';
  }
  if (problem) throw new ConfigError(field, `${problem}; ${given(v)}`);
  return v;
}

function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

function hostProblem(h: string): string | undefined {
  if (h === '') return 'is empty';
  if (isIP(h)) return undefined;
  if (h.length > 253) return 'is longer than 253 characters';
  const labels = (h.endsWith('.') ? h.slice(0, -1) : h).split('.');
  if (labels.every((l) => /^[0-9]+$/.test(l))) return 'is not a valid IPv4 address';
  // Underscores are not RFC 1123, but container runtimes hand them out and resolvers accept them.
  const label = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
  if (!labels.every((l) => label.test(l))) return 'is neither a host name nor an IP address';
  return undefined;
}

/** node_host is what peers connect to, so it must be a concrete address. */
function advertisedHost(v: unknown, field: string): string {
  const expect = 'the host name or IP address peers connect to, such as "10.0.0.5"';
  if (v === undefined) throw new ConfigError(field, `is required: ${expect}`);
  if (typeof v !== 'string') throw new ConfigError(field, `must be a string, ${expect}; ${given(v)}`);
  const problem = hostProblem(v);
  if (problem) throw new ConfigError(field, `${problem}: expected ${expect}; ${given(v)}`);
  if (v === '0.0.0.0' || /^[:0]+$/.test(v)) {
    throw new ConfigError(
      field,
      `is a wildcard address, which peers cannot connect to: expected ${expect}; ${given(v)}`,
    );
  }
  return v;
}

function isPort(s: string): boolean {
  return /^[0-9]{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535;
}

/** kimserver writes ports as numbers in config.json and as strings in znode data, so both are accepted. */
function port(v: unknown, field: string): number {
  const expect = 'a port number from 1 to 65535 (a number or a numeric string)';
  if (v === undefined) throw new ConfigError(field, `is required: ${expect}`);
  const ok =
    (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) ||
    (typeof v === 'string' && isPort(v));
  if (!ok) throw new ConfigError(field, `must be ${expect}; ${given(v)}`);
  return Number(v);
}

/** ZooKeeper's connect string: "host[:port],host[:port][/chroot]", the port defaulting to 2181. */
function connectString(
  value: unknown,
  field: string,
): { servers: string; hosts: readonly ZkServer[]; chroot: string | null } {
  const expect = 'a ZooKeeper connect string such as "10.0.0.1:2181,10.0.0.2:2181[/chroot]"';
  const v = value === undefined ? `127.0.0.1:${DEFAULT_ZK_PORT}` : value;
  if (typeof v !== 'string') throw new ConfigError(field, `must be ${expect}; ${given(v)}`);
  const fail = (problem: string): never => {
    throw new ConfigError(field, `${problem} (expected ${expect}); ${given(v)}`);
  };
  if (v === '') fail('must not be empty');
  if (/\s/.test(v)) fail('must not contain whitespace');
  const slash = v.indexOf('/');
  const list = slash < 0 ? v : v.slice(0, slash);
  // A lone trailing "/" means no chroot, as in ZooKeeper's own parser.
  const chroot = slash < 0 || slash === v.length - 1 ? null : v.slice(slash);
  if (chroot !== null) {
    const problem = znodePathProblem(chroot);
    if (problem) fail(`has a chroot ${quote(chroot)} that ${problem}`);
  }
  const hosts: ZkServer[] = [];
  for (const entry of list.split(',')) {
    if (entry === '') fail('has an empty server entry (a stray ","?)');
    // node-zookeeper-client splits entries at ":", so it cannot reach an IPv6 literal.
    if (entry.startsWith('[') || entry.split(':').length > 2) {
      fail(`has ${quote(entry)}: IPv6 literals are not supported by the ZooKeeper client, use a host name`);
    }
    const [host, portText] = entry.split(':');
    const problem = hostProblem(host);
    if (problem) fail(`has a host ${quote(host)} that ${problem}`);
    if (portText !== undefined && !isPort(portText))
      fail(`has ${quote(entry)}, whose port is not from 1 to 65535`);
    const server = Object.freeze({ host, port: portText === undefined ? DEFAULT_ZK_PORT : Number(portText) });
    if (hosts.some((s) => s.host === host && s.port === server.port))
      fail(`lists ${host}:${server.port} twice`);
    hosts.push(server);
  }
  const servers = hosts.map((s) => `${s.host}:${s.port}`).join(',') + (chroot ?? '');
  return { servers, hosts: Object.freeze(hosts), chroot };
}

function int(
  v: unknown,
  field: string,
  min: number,
  max: number,
  fallback: number | undefined,
  unit: string,
): number {
  const expect = `an integer from ${min} to ${max}${unit}`;
  if (v === undefined) {
    if (fallback === undefined) throw new ConfigError(field, `is required: ${expect}`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be ${expect}; ${given(v)}`);
  }
  return v;
}

function ringBytes(v: unknown, field: string, fallback: number): number {
  const n = int(v, field, 4096, 1 << 28, fallback, ' bytes, a power of two');
  // A power of two lets the ring wrap its indices with a mask.
  if ((n & (n - 1)) !== 0)
    throw new ConfigError(field, `must be a power of two, such as ${fallback}; ${given(v)}`);
  return n;
}

function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ConfigError(field, `must be true or false; ${given(v)}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(field, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}; ${given(v)}`);
  }
  return v as T;
}

/** "user:password" for the digest scheme. Messages describe the shape only: the value is a secret. */
function digestAuth(v: unknown, field: string): ZkAuth | null {
  if (v === undefined) return null;
  const expect = 'must be a "user:password" string (digest scheme)';
  if (typeof v !== 'string') throw new ConfigError(field, `${expect}; got ${kind(v)} (value not shown)`);
  const colon = v.indexOf(':');
  const user = colon < 0 ? '' : v.slice(0, colon);
  const password = colon < 0 ? '' : v.slice(colon + 1);
  const problem =
    colon < 0
      ? 'has no ":"'
      : user === ''
        ? 'has an empty user'
        : password === ''
          ? 'has an empty password'
          : [...v].some((c) => c < ' ' || c === '\u007f')
            ? 'contains a control character'
            : undefined;
  if (problem) throw new ConfigError(field, `${expect}: the given value ${problem} (value not shown)`);
  return Object.freeze({ scheme: 'digest', user, password });
}
