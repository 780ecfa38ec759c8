/**
 * bench/discovery's `native` variant: the `zookeeper` package, the official C client bound to Node. It runs
 * single-threaded: the binding polls the session's socket on the main loop (uv_poll) and every callback runs
 * there, so its protocol decoding is C but its work is on the measured loop. It sits behind
 * discovery-plain.ts's watcher like the main-thread client, with zkbio's Nodes table.
 *
 * It is no dependency of zkbio, not even an optional one (that would install it for every user): it lives in
 * bench/native/package.json, installed there on demand (`npm ci`, which builds the bundled C sources with
 * node-gyp against the installed Node's headers). When it cannot be built the variant is skipped with the
 * reason, and the rest of the bench runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PlainWatcher, type Transport } from './discovery-plain.js';

/** The part of the binding's API used here (it ships no types this project can import). */
interface NativeZk {
  once(event: 'connect', fn: () => void): void;
  init(config: object): void;
  close(): void;
  aw_get_children(
    path: string,
    watch: (type: number) => void,
    done: (rc: number, error: string, children: string[]) => void,
  ): void;
  aw_get(
    path: string,
    watch: (type: number) => void,
    done: (rc: number, error: string, stat: unknown, data: Buffer | string | null) => void,
  ): void;
}
export interface NativeBinding {
  new (config: object): NativeZk;
  constants: Record<string, number>;
}

const DIR = fileURLToPath(new URL('../../../bench/native/', import.meta.url));
/** Where this machine's Node keeps its headers (include/node): node-gyp builds against them instead of downloading. */
const SYSTEM_NODEDIR = '/usr';
const INSTALL_TIMEOUT_MS = 300_000;

function load(): NativeBinding {
  return createRequire(`${DIR}package.json`)('zookeeper') as NativeBinding;
}

/** The binding, built into bench/native first if needed; a string says why it is not available. */
export function loadNative(): NativeBinding | string {
  try {
    return load();
  } catch {
    // not installed yet (or built for another Node): install below
  }
  const env = { ...process.env };
  if (!env.npm_config_nodedir && existsSync(`${SYSTEM_NODEDIR}/include/node/node.h`))
    env.npm_config_nodedir = SYSTEM_NODEDIR;
  console.error(`discovery: building the native 'zookeeper' binding in ${DIR} (once; about 15 s here)`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: DIR,
    env,
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
  });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    return `npm ci in ${DIR} failed (${r.error?.message ?? `exit ${r.status}`}): ${tail}`;
  }
  try {
    return load();
  } catch (err) {
    return `the binding built but does not load: ${(err as Error).message}`;
  }
}

function transport(binding: NativeBinding, connectString: string, sessionTimeoutMs: number): Transport {
  const c = binding.constants;
  const zk = new binding({
    connect: connectString,
    timeout: sessionTimeoutMs,
    debug_level: c.ZOO_LOG_LEVEL_ERROR,
    host_order_deterministic: false,
  });
  const failed = (rc: number, error: string) => new Error(`native client: ${error} (rc ${rc})`);
  return {
    connect: (timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('native client: no session')), timeoutMs);
        zk.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        zk.init({});
      }),
    close: () => zk.close(),
    children: (folder, onChange, done) =>
      zk.aw_get_children(
        folder,
        (type) => {
          if (type === c.ZOO_CHILD_EVENT) onChange();
        },
        (rc, error, names) => (rc === c.ZOK ? done(null, names ?? []) : done(failed(rc, error), [])),
      ),
    data: (path, onEvent, done) =>
      zk.aw_get(
        path,
        (type) => {
          if (type === c.ZOO_CHANGED_EVENT) onEvent('changed');
          else if (type === c.ZOO_DELETED_EVENT) onEvent('deleted');
        },
        (rc, error, _stat, data) => {
          if (rc === c.ZNONODE) done(null, null);
          else if (rc !== c.ZOK) done(failed(rc, error), null);
          else done(null, data === null ? '' : typeof data === 'string' ? data : data.toString('utf8'));
        },
      ),
  };
}

export function nativeClient(
  binding: NativeBinding,
  connectString: string,
  root: string,
  type: string,
  sessionTimeoutMs: number,
) {
  return new PlainWatcher(transport(binding, connectString, sessionTimeoutMs), root, type);
}
