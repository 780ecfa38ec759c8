/**
 * bench/discovery's `mainThreadClient`: plain node-zookeeper-client on the main thread, the library zkbio's
 * bio thread uses, behind discovery-plain.ts's watcher.
 */
import zookeeper, { type Event } from 'node-zookeeper-client';
import { PlainWatcher, type Transport } from './discovery-plain.js';

function transport(connectString: string, sessionTimeoutMs: number): Transport {
  const client = zookeeper.createClient(connectString, { sessionTimeout: sessionTimeoutMs, retries: 0 });
  return {
    connect: (timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('main-thread client: no session')), timeoutMs);
        client.once('connected', () => {
          clearTimeout(timer);
          resolve();
        });
        client.connect();
      }),
    close: () => client.close(),
    children: (folder, onChange, done) =>
      client.getChildren(
        folder,
        (event: Event) => {
          if (event.getName() === 'NODE_CHILDREN_CHANGED') onChange();
        },
        (err, names) => done(err ?? null, names ?? []),
      ),
    data: (path, onEvent, done) =>
      client.getData(
        path,
        (event: Event) => {
          if (event.getName() === 'NODE_DATA_CHANGED') onEvent('changed');
          else if (event.getName() === 'NODE_DELETED') onEvent('deleted');
        },
        (err, data) => {
          if ((err as { code?: number } | null)?.code === zookeeper.Exception.NO_NODE) done(null, null);
          else if (err) done(err, null);
          else done(null, data ? data.toString('utf8') : '');
        },
      ),
  };
}

export function mainThreadClient(
  connectString: string,
  root: string,
  type: string,
  sessionTimeoutMs: number,
) {
  return new PlainWatcher(transport(connectString, sessionTimeoutMs), root, type);
}
