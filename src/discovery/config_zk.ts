// The ZooKeeper-facing validators: names that become path segments, znode paths as ZooKeeper's PathUtils
// accepts them, host names, ports and connect strings. The config and the operator commands' flags share them.
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { given, quote, refusedCharProblem } from './config_values.js';

/** One ZooKeeper server from `zookeeper.servers`. */
export interface ZkServer {
  readonly host: string;
  readonly port: number;
}

const MAX_NAME_LENGTH = 128;
const MAX_PATH_LENGTH = 1024;
const DEFAULT_ZK_PORT = 2181;

/** A name used as a path segment: server_name, node_type, a subscribed type. */
export function name(v: unknown, field: string, expect: string): string {
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

export function nameList(v: unknown, field: string): readonly string[] {
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

export function root(v: unknown, field: string, fallback: string, chroot: string | null): string {
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

export function overlaps(a: string, b: string): boolean {
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
export function advertisedHost(v: unknown, field: string): string {
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
export function port(v: unknown, field: string): number {
  const expect = 'a port number from 1 to 65535 (a number or a numeric string)';
  if (v === undefined) throw new ConfigError(field, `is required: ${expect}`);
  const ok =
    (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) ||
    (typeof v === 'string' && isPort(v));
  if (!ok) throw new ConfigError(field, `must be ${expect}; ${given(v)}`);
  return Number(v);
}

/** ZooKeeper's connect string: "host[:port],host[:port][/chroot]", the port defaulting to 2181. */
export function connectString(
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
