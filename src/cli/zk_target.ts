// Which ZooKeeper the operator commands (ls, lookup, watch) read, from --config FILE (kimserver's config.json)
// or --servers/--root/--auth, checked by the config's own validators; and a session to it that gives up after
// --timeout, since a CLI must not hang on an unreachable ensemble.
import { DEFAULT_MAX_NODE_BYTES, DEFAULT_NODES_ROOT, type ZkbioConfig } from '../discovery/config.js';
import { loadConfigFile } from '../discovery/config_file.js';
import { authString, digestAuth, int } from '../discovery/config_values.js';
import { connectString, name, root } from '../discovery/config_zk.js';
import { ConfigError } from '../errors.js';
import { type ZkEvent, ZkSession } from '../zk/session.js';
import { UsageError } from './usage.js';

export const TARGET_FLAGS = {
  config: { type: 'string' },
  servers: { type: 'string' },
  root: { type: 'string' },
  auth: { type: 'string' },
  timeout: { type: 'string' },
  type: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

interface TargetFlags {
  config?: string;
  servers?: string;
  root?: string;
  auth?: string;
  timeout?: string;
  type?: string;
}

export interface ZkTarget {
  /** The connect string, chroot included. */
  servers: string;
  /** The nodes root: `{root}/{type}/{node}`. */
  root: string;
  /** "user:password" for the digest scheme, or undefined. Never printed. */
  auth: string | undefined;
  maxNodeBytes: number;
  /** Bound on connecting and on every call. */
  timeoutMs: number;
  /** --type, or undefined for every type under the root. */
  type: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** A ConfigError about a flag, worded for the command line ("--servers must be …"). */
function flag<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`${err.field} ${err.problem}`);
    throw err;
  }
}

/** Loads a config file; a bad one is a usage error (exit 2) naming the file and the field. */
export function fromConfig(path: string): ZkbioConfig {
  try {
    return loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`bad config ${path}: ${err.message}`);
    throw err;
  }
}

export function resolveTarget(values: TargetFlags): ZkTarget {
  const timeoutMs = flag(() =>
    int(
      values.timeout === undefined ? undefined : Number(values.timeout),
      '--timeout',
      100,
      600_000,
      DEFAULT_TIMEOUT_MS,
      ' (milliseconds)',
    ),
  );
  const type =
    values.type === undefined
      ? undefined
      : flag(() => name(values.type, '--type', 'a node type such as "logic"'));
  if (values.config !== undefined) {
    if (values.servers !== undefined || values.root !== undefined || values.auth !== undefined)
      throw new UsageError(
        '--config gives the servers, root and auth: use either --config or --servers/--root/--auth',
      );
    const { zookeeper } = fromConfig(values.config);
    const auth = zookeeper.auth ? authString(zookeeper.auth) : undefined;
    return {
      servers: zookeeper.servers,
      root: zookeeper.nodesRoot,
      auth,
      maxNodeBytes: zookeeper.maxNodeBytes,
      timeoutMs,
      type,
    };
  }
  if (values.servers === undefined)
    throw new UsageError('--config FILE or --servers HOST:PORT,... is required');
  const zk = flag(() => connectString(values.servers, '--servers'));
  const nodesRoot = flag(() => root(values.root, '--root', DEFAULT_NODES_ROOT, zk.chroot));
  const auth = flag(() => digestAuth(values.auth, '--auth'));
  return {
    servers: zk.servers,
    root: nodesRoot,
    auth: auth ? authString(auth) : undefined,
    maxNodeBytes: DEFAULT_MAX_NODE_BYTES,
    timeoutMs,
    type,
  };
}

/** A connected session; rejects (ZCONNECTIONLOSS, naming the servers) when none answers within the timeout. */
export async function openSession(target: ZkTarget, onEvent?: (event: ZkEvent) => void): Promise<ZkSession> {
  const session = new ZkSession({
    connectString: target.servers,
    auth: target.auth,
    callTimeoutMs: target.timeoutMs,
    connect: { deadlineMs: target.timeoutMs, attemptTimeoutMs: Math.min(3000, target.timeoutMs) },
    onEvent,
  });
  try {
    await session.connect();
  } catch (err) {
    await session.close();
    throw err;
  }
  return session;
}
