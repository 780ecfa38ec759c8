/**
 * The HTTP status endpoints (DESIGN.md's contract), served from any process that holds a node table: the
 * primary in single-process mode, or every cluster worker from its replica.
 *
 *   GET /healthz                200 when the session is connected and the node registered, else 503
 *   GET /nodes                  { version, state, self, nodes: [...] }
 *   GET /lookup?type=T&key=K    { id, host, port, worker_index, version, served_by }, or 404
 *   GET /metrics                Prometheus text
 *   GET /                       the status page (status_page.ts), which polls the two below
 *   GET /live                   session, table version, bad peer data, drain histogram, queue depths (JSON)
 *   GET /ring[?type=T]          each ring member's share of the 32-bit key space, per type (JSON)
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { SessionState } from '../metrics.js';
import type { Nodes } from '../nodes/table.js';
import type { LiveStatus } from './status_live.js';
import { STATUS_PAGE_HTML } from './status_page.js';
import { ringShares } from './status_ring.js';

export interface NodeStatus {
  state: SessionState;
  /** The own registration znode, or null while not registered. */
  self: string | null;
  healthy: boolean;
}

export interface StatusSource {
  nodes: Nodes;
  status(): NodeStatus;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** What only the primary knows, for the status page: asked for per request, never pushed. */
  live(): Promise<LiveStatus>;
}

/** This process in a `zkbio node`: "primary" or "worker N" (its logs and its /live answers say it). */
export const PROCESS_ROLE = cluster.isPrimary ? 'primary' : `worker ${cluster.worker?.id}`;

/** Parses "HOST:PORT" or "[v6]:PORT". Throws naming the flag when it is not one. */
export function parseListenAddress(text: string, flag = '--status'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 0 || port > 65535)
    throw new Error(`${flag} must be HOST:PORT (e.g. 127.0.0.1:8080), got "${text}"`);
  return { host: m[1] ?? m[2], port };
}

export function createStatusServer(source: StatusSource): Server {
  return createServer((req, res) => {
    handle(source, req, res).catch((err: Error) => send(res, 500, { error: err.message }));
  });
}

async function handle(source: StatusSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://status');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET is served' });
  switch (url.pathname) {
    case '/healthz': {
      const s = source.status();
      return send(res, s.healthy ? 200 : 503, { state: s.state, healthy: s.healthy, self: s.self });
    }
    case '/nodes': {
      const s = source.status();
      return send(res, 200, {
        version: source.nodes.version,
        state: s.state,
        self: s.self,
        nodes: source.nodes.list(),
      });
    }
    case '/lookup': {
      const type = url.searchParams.get('type');
      const key = url.searchParams.get('key');
      if (!type || key === null) return send(res, 400, { error: 'lookup needs ?type=T&key=K' });
      const hit = source.nodes.getNodeInHash(type, key);
      if (!hit) return send(res, 404, { error: `no node of type "${type}"`, version: source.nodes.version });
      return send(res, 200, {
        id: hit.id,
        host: hit.host,
        port: hit.port,
        worker_index: hit.workerIndex,
        version: source.nodes.version,
        served_by: process.pid,
      });
    }
    case '/': {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': STATUS_PAGE_HTML.byteLength,
        'cache-control': 'no-cache',
      });
      res.end(STATUS_PAGE_HTML);
      return;
    }
    case '/live': {
      const s = source.status();
      const live = await source.live();
      return send(res, 200, {
        served_by: process.pid,
        role: PROCESS_ROLE,
        now: Date.now(),
        state: s.state,
        self: s.self,
        healthy: s.healthy,
        version: source.nodes.version,
        ...live,
      });
    }
    case '/ring': {
      const type = url.searchParams.get('type');
      const types = ringShares(source.nodes, type ?? undefined);
      if (type !== null && types[type] === undefined)
        return send(res, 404, { error: `no node of type "${type}"`, version: source.nodes.version });
      return send(res, 200, { version: source.nodes.version, served_by: process.pid, types });
    }
    case '/metrics': {
      const { contentType, body } = await source.metrics();
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
      return;
    }
    default:
      return send(res, 404, { error: `no such endpoint: ${url.pathname}` });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
