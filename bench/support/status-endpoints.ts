// The status server's endpoints over real HTTP on loopback, timed against a bench's table: the page polls
// them, so a 1,000-node table must not make them slow (the status page issue's bound: 50 ms). Timed here,
// not in a unit test, where a loaded machine made the bound flaky.
import { once } from 'node:events';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LiveStatus } from '../../src/cli/status_live.js';
import { createStatusServer } from '../../src/cli/status_server.js';
import type { Nodes } from '../../src/nodes/index.js';

/** What the status page asks for. */
export const STATUS_PATHS = [
  '/',
  '/live',
  '/nodes',
  '/ring',
  '/ring?type=logic',
  '/lookup?type=logic&key=user%3A42',
];

const LIVE: LiveStatus = {
  types: ['logic'],
  changed_at: null,
  bad: [],
  bad_total: 0,
  drain: { le: [0.001], counts: [0, 0], count: 0, sum_s: 0 },
  queues: { task: { used: 0, capacity: 1024 }, ack: { used: 0, capacity: 4096 }, full_total: 0 },
};

function fetchMs(port: number, path: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve(performance.now() - t0)
          : reject(new Error(`GET ${path}: ${res.statusCode}`)),
      );
    }).on('error', reject);
  });
}

/** Each path's request times (ms), `reps` requests after one warm-up. */
export async function timeStatusEndpoints(nodes: Nodes, reps: number): Promise<Record<string, number[]>> {
  const server = createStatusServer({
    nodes,
    status: () => ({ state: 'CONNECTED', self: null, healthy: true }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    live: async () => LIVE,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const out: Record<string, number[]> = {};
  try {
    for (const path of STATUS_PATHS) {
      await fetchMs(port, path);
      const ms: number[] = [];
      for (let i = 0; i < reps; i++) ms.push(await fetchMs(port, path));
      out[path] = ms;
    }
  } finally {
    server.close();
  }
  return out;
}
