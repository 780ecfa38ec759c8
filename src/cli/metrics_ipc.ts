/**
 * /metrics from a cluster worker: the metrics live in the primary, which owns the session and the Bio, so a
 * worker asks it over the IPC channel. Messages carry `zkbioMetrics` so nothing else mistakes them.
 */
import type { Worker } from 'node:cluster';
import type { ZkClient } from '../discovery/zk_client.js';

interface MetricsRequest {
  zkbioMetrics: 'get';
  id: number;
}
interface MetricsReply {
  zkbioMetrics: 'text';
  id: number;
  contentType: string;
  body: string;
}

export async function renderMetrics(client: ZkClient): Promise<{ contentType: string; body: string }> {
  client.refreshQueueMetrics();
  return { contentType: client.metrics.contentType, body: await client.metrics.render() };
}

/** Primary: answers a worker's metrics requests. */
export function serveMetricsTo(worker: Worker, client: ZkClient): void {
  worker.on('message', (msg: MetricsRequest) => {
    if (msg?.zkbioMetrics !== 'get') return;
    void renderMetrics(client).then((m) => {
      if (worker.isConnected())
        worker.send({ zkbioMetrics: 'text', id: msg.id, ...m } satisfies MetricsReply);
    });
  });
}

/** Worker: asks the primary for its metrics text, bounded by `timeoutMs`. */
export function requestMetrics(timeoutMs = 2000): Promise<{ contentType: string; body: string }> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (msg: MetricsReply) => {
      if (msg?.zkbioMetrics !== 'text' || msg.id !== id) return;
      done();
      resolve({ contentType: msg.contentType, body: msg.body });
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the cluster primary did not answer a metrics request within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send?.({ zkbioMetrics: 'get', id } satisfies MetricsRequest);
  });
}
let nextId = 1;
