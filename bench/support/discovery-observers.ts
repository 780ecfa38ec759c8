/**
 * The discovery clients bench/discovery compares, each behind one shape: zkbio's ZkClient (its bio thread), the
 * same with one-shot watches only (`zkbioOneShot`: what a ZooKeeper older than 3.6 gets, with no addWatch),
 * node-zookeeper-client on the main thread, and the native C binding on the main thread. Only public API and
 * events are used, so the harness measures whatever version of zkbio's internals is built.
 */
import { parseConfig } from '../../src/discovery/config.js';
import { ZkClient } from '../../src/discovery/zk_client.js';
import { createLogger } from '../../src/log.js';
import { threadIds } from './discovery-cpu.js';
import { mainThreadClient } from './discovery-main-client.js';
import { type NativeBinding, nativeClient } from './discovery-native.js';
import type { DiscoveryListeners } from './discovery-observe.js';
import type { PlainWatcher } from './discovery-plain.js';

export type Variant = 'zkbio' | 'zkbioOneShot' | 'mainThreadClient' | 'native';
export const TYPE = 'peer';
/** The observer's session timeout, the same for every client. */
const SESSION_TIMEOUT_MS = 4000;

export interface ObserverOptions {
  connectString: string;
  /** The nodes root: the peers live in `${root}/${TYPE}`. */
  root: string;
  /** The loaded binding, for `native`. */
  native?: NativeBinding;
}

/** A discovery client under test, not started yet, so listeners can be on before its first listing. */
export interface Observer {
  /** Adds the listeners; returns their removal. */
  listen(l: DiscoveryListeners): () => void;
  /**
   * Starts the client; resolves once it runs (its first listing may still be under way).
   */
  start(): Promise<void>;
  /** Resolves when the client is connected and has listed its type once. */
  ready(timeoutMs: number): Promise<void>;
  /** The threads that appeared while the client was made and started: zkbio's bio worker. */
  readonly threads: readonly number[];
  stop(): Promise<void>;
}

/** ZkClient and the plain watchers are different EventEmitter types with the same three events. */
function listenOn(client: ZkClient | PlainWatcher, l: DiscoveryListeners): () => void {
  const c = client as unknown as PlainWatcher;
  c.on('added', l.added).on('changed', l.changed).on('removed', l.removed);
  return () => c.off('added', l.added).off('changed', l.changed).off('removed', l.removed);
}

function zkbio(o: ObserverOptions, persistentWatches: boolean): ZkClient {
  const config = parseConfig({
    server_name: 'observer',
    node_type: 'observer',
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 1,
    zookeeper: {
      servers: o.connectString,
      session_timeout: SESSION_TIMEOUT_MS,
      persistent_watches: persistentWatches,
      nodes: { root: o.root, subscribe_node_type: [TYPE] },
      payload: { root: `${o.root}-payload` },
      log_level: 'silent',
    },
  });
  return new ZkClient(config, { logger: createLogger({ level: 'silent' }) });
}

export function createObserver(variant: Variant, o: ObserverOptions): Observer {
  let threads: number[] = [];
  // Before the client exists: zkbio's pool may start its thread in the constructor already.
  const before = threadIds();
  const tracked = async (start: () => Promise<void>) => {
    await start();
    threads = [...threadIds()].filter((t) => !before.has(t));
  };
  if (variant === 'zkbio' || variant === 'zkbioOneShot') {
    const client = zkbio(o, variant === 'zkbio');
    return {
      listen: (l) => listenOn(client, l),
      start: () => tracked(() => client.start()),
      ready: (ms) => client.ready(ms),
      get threads() {
        return threads;
      },
      stop: () => client.stop(),
    };
  }
  if (variant === 'native' && !o.native) throw new Error('the native variant needs the loaded binding');
  const client =
    variant === 'native'
      ? nativeClient(o.native as NativeBinding, o.connectString, o.root, TYPE, SESSION_TIMEOUT_MS)
      : mainThreadClient(o.connectString, o.root, TYPE, SESSION_TIMEOUT_MS);
  let started: Promise<void> | null = null;
  return {
    listen: (l) => listenOn(client, l),
    start: () =>
      tracked(async () => {
        started = client.start();
        started.catch(() => undefined); // handled by whoever awaits ready()
      }),
    ready: async () => started ?? Promise.reject(new Error('not started')),
    get threads() {
      return threads;
    },
    stop: async () => client.stop(),
  };
}
