/**
 * /metrics (and the status page's /live) from a cluster worker: the metrics live in the primary, which owns
 * the session and the Bio, so a worker asks it over the IPC channel. Messages carry `zkbioMetrics` so nothing
 * else mistakes them.
 */
import type { Worker } from 'node:cluster';
import type { ZkClient } from '../discovery/zk_client.js';
import type { LiveStatus } from './status_live.js';

interface MetricsRequest {
  zkbioMetrics: 'get' | 'live';
  id: number;
}
interface TextReply {
  zkbioMetrics: 'text';
  id: number;
  contentType: string;
  body: string;
}
interface LiveReply {
  zkbioMetrics: 'live-status';
  id: number;
  live: LiveStatus;
}
type Reply = TextReply | LiveReply;

export async function renderMetrics(client: ZkClient): Promise<{ contentType: string; body: string }> {
  client.refreshQueueMetrics();
  return { contentType: client.metrics.contentType, body: await client.metrics.render() };
}

/** Primary: answers a worker's metrics and live-status requests. */
export function serveMetricsTo(worker: Worker, client: ZkClient, live: () => Promise<LiveStatus>): void {
  const reply = (msg: Reply): void => {
    if (worker.isConnected()) worker.send(msg);
  };
  worker.on('message', (msg: MetricsRequest) => {
    if (msg?.zkbioMetrics === 'get')
      void renderMetrics(client).then((m) => reply({ zkbioMetrics: 'text', id: msg.id, ...m }));
    else if (msg?.zkbioMetrics === 'live')
      void live().then((l) => reply({ zkbioMetrics: 'live-status', id: msg.id, live: l }));
  });
}

/** Worker: asks the primary for its metrics text, bounded by `timeoutMs`. */
export async function requestMetrics(timeoutMs = 2000): Promise<{ contentType: string; body: string }> {
  const { contentType, body } = await ask('get', 'text', timeoutMs);
  return { contentType, body };
}

/** Worker: asks the primary for the status page's live status, bounded by `timeoutMs`. */
export async function requestLive(timeoutMs = 2000): Promise<LiveStatus> {
  return (await ask('live', 'live-status', timeoutMs)).live;
}

function ask<K extends Reply['zkbioMetrics']>(
  what: MetricsRequest['zkbioMetrics'],
  answer: K,
  timeoutMs: number,
): Promise<Extract<Reply, { zkbioMetrics: K }>> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (msg: Reply) => {
      if (msg?.zkbioMetrics !== answer || msg.id !== id) return;
      done();
      resolve(msg as Extract<Reply, { zkbioMetrics: K }>);
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new Error(
          `the cluster primary did not answer a ${what === 'get' ? 'metrics' : 'live-status'} request within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send?.({ zkbioMetrics: what, id } satisfies MetricsRequest);
  });
}
let nextId = 1;
