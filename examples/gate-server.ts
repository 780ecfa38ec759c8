/**
 * A "gate" server as a user would write one: a node:cluster HTTP front whose workers route each user to the
 * "logic" server that kimserver's ring picks. One ZooKeeper session lives in the primary; every worker routes
 * from its replica of the node table, with no ZooKeeper traffic of its own.
 *
 *   node dist/examples/gate-server.js --zk 127.0.0.1:2181 --port 8080 [--workers 2]
 *
 * GET /user/:id  → forwards to the chosen logic server and answers { user, routed_to, answer, gate_pid }
 * GET /table     → this worker's view: { version, logic: [host:port, ...] }
 */
import cluster from 'node:cluster';
import { createServer, get } from 'node:http';
import { parseArgs } from 'node:util';
import { joinNodeTable, shareNodeTable, startDiscovery } from '../src/index.js';

const { values } = parseArgs({
  options: { zk: { type: 'string' }, port: { type: 'string' }, workers: { type: 'string' } },
});
const port = Number(values.port ?? 8080);
const workers = Number(values.workers ?? 2);

if (cluster.isPrimary) {
  const discovery = await startDiscovery({
    server_name: 'gate',
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: port,
    worker_cnt: workers,
    zookeeper: {
      servers: values.zk ?? '127.0.0.1:2181',
      session_timeout: 2000,
      nodes: { root: '/kimserver/nodes', subscribe_node_type: ['logic'] },
      log_level: 'warn',
    },
  });
  shareNodeTable(discovery);
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', async () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    await discovery.stop();
    process.exit(0);
  });
} else {
  const replica = await joinNodeTable();
  createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/table') {
      const logic = replica.nodes.list('logic').map((n) => `${n.host}:${n.port}`);
      return reply(200, { version: replica.nodes.version, logic });
    }
    const user = /^\/user\/([^/]+)$/.exec(req.url ?? '')?.[1];
    if (!user) return reply(404, { error: 'try /user/:id' });
    const hit = replica.nodes.getNodeInHash('logic', user);
    if (!hit) return reply(503, { error: 'no logic server known' });
    get({ host: hit.host, port: hit.port, path: `/user/${user}`, timeout: 2000 }, (up) => {
      let body = '';
      up.on('data', (d) => {
        body += d;
      });
      up.on('end', () =>
        reply(200, { user, routed_to: hit.id, answer: JSON.parse(body), gate_pid: process.pid }),
      );
    }).on('error', (err) => reply(502, { user, routed_to: hit.id, error: err.message }));
  }).listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
}
