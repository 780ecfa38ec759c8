/**
 * A "logic" server as a user would write one: an HTTP service that registers itself in ZooKeeper with zkbio.
 *
 *   node dist/examples/logic-server.js --zk 127.0.0.1:2181 --port 4001 [--name logic-a]
 *
 * GET /user/:id answers which server handled the user. SIGTERM leaves ZooKeeper at once and exits 0.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { startDiscovery } from '../src/index.js';

const { values } = parseArgs({
  options: { zk: { type: 'string' }, port: { type: 'string' }, name: { type: 'string' } },
});
const port = Number(values.port);
const self = `127.0.0.1:${port}`;

const server = createServer((req, res) => {
  const user = /^\/user\/([^/]+)$/.exec(req.url ?? '')?.[1];
  res.writeHead(user ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(user ? { user, logic: self } : { error: 'try /user/:id' }));
});
server.listen(port, '127.0.0.1');

const discovery = await startDiscovery({
  server_name: values.name ?? `logic-${port}`,
  node_type: 'logic',
  node_host: '127.0.0.1',
  node_port: port,
  worker_cnt: 1,
  zookeeper: {
    servers: values.zk ?? '127.0.0.1:2181',
    session_timeout: 2000,
    nodes: { root: '/kimserver/nodes', subscribe_node_type: [] },
    log_level: 'warn',
  },
});
await discovery.ready();
process.send?.({ ready: discovery.self });

process.on('SIGTERM', async () => {
  server.close();
  await discovery.stop();
  process.exit(0);
});
