/**
 * The peers of bench/discovery, forked as their own process (see discovery-fleet.ts for the parent's side), so
 * the measured event loop carries only the discovery client under test: 1,000 sessions' sockets, pings and
 * replies would otherwise be work on that same loop.
 *
 * Each peer is its own node-zookeeper-client client, so its own ZooKeeper session. Commands come over IPC
 * and each gets exactly one reply. Times are monoNow() (CLOCK_MONOTONIC, shared with the parent process) at
 * the moment the peer's own call completed:
 *   join    create of `{folder}/peer-{i}`, EPHEMERAL, with its JSON in the create: the create's callback
 *   change  setData with new JSON (worker_cnt 3, a new active_time): the setData's callback
 *   leave   graceful close of the session: the client's 'disconnected', i.e. the server answered the close
 *           and closed the socket (it deletes the ephemeral node and fires the watches before that)
 * Steps start `gapMs` apart (0: all at once, the storm) without waiting for earlier ones to finish.
 */
import zookeeper, { type Client, CreateMode } from 'node-zookeeper-client';
import { monoNow } from '../../src/clock.js';
import { peerJson } from './peer-client.js';

export type PeerCommand =
  | { op: 'connect'; connectString: string; count: number }
  | { op: 'mkdirp'; path: string }
  | { op: 'join' | 'change' | 'leave'; gapMs: number; report: boolean };

export type PeerReply = { ok: true; times?: [path: string, t: number][] } | { ok: false; error: string };

/** Peers ask for this session timeout; the bench's server grants 1-10 s. */
const SESSION_TIMEOUT_MS = 4000;
/** Sessions opened at once while connecting, so ZooKeeper's accept queue is not flooded. */
const CONNECT_CONCURRENCY = 100;
const CONNECT_TIMEOUT_MS = 10_000;
export const PEER_BASE_PORT = 20_000;
const OPEN_ACL = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];

interface Peer {
  client: Client;
  port: number;
  path: string;
}

const peers: Peer[] = [];
let folder = '';

function connectOne(connectString: string): Promise<Client> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: SESSION_TIMEOUT_MS, retries: 0 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`a peer could not connect to ${connectString} in ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

async function connect(connectString: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += CONNECT_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, count - i) }, () =>
      connectOne(connectString),
    );
    for (const client of await Promise.all(batch)) {
      const port = PEER_BASE_PORT + peers.length;
      peers.push({ client, port, path: '' });
    }
  }
}

function mkdirp(path: string): Promise<void> {
  folder = path;
  return new Promise((resolve, reject) =>
    peers[0].client.mkdirp(path, (err) => (err ? reject(err) : resolve())),
  );
}

/** One peer's step; resolves with the completion time. */
function step(op: 'join' | 'change' | 'leave', peer: Peer): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (err: unknown) => (err ? reject(err) : resolve(monoNow()));
    if (op === 'join') {
      peer.path = `${folder}/peer-${peer.port}`;
      const data = Buffer.from(peerJson(peer.path, 'peer', peer.port));
      peer.client.create(peer.path, data, OPEN_ACL, CreateMode.EPHEMERAL, (err) => done(err));
    } else if (op === 'change') {
      const data = Buffer.from(peerJson(peer.path, 'peer', peer.port, 3));
      peer.client.setData(peer.path, data, -1, (err) => done(err));
    } else {
      peer.client.once('disconnected', () => done(null));
      peer.client.close();
    }
  });
}

async function run(op: 'join' | 'change' | 'leave', gapMs: number): Promise<[string, number][]> {
  const steps: Promise<number>[] = [];
  for (const peer of peers) {
    if (gapMs > 0 && steps.length > 0) await new Promise((r) => setTimeout(r, gapMs));
    steps.push(step(op, peer));
  }
  const times = await Promise.all(steps);
  return peers.map((p, i) => [p.path, times[i]]);
}

async function handle(cmd: PeerCommand): Promise<PeerReply> {
  switch (cmd.op) {
    case 'connect':
      await connect(cmd.connectString, cmd.count);
      return { ok: true };
    case 'mkdirp':
      await mkdirp(cmd.path);
      return { ok: true };
    default: {
      const times = await run(cmd.op, cmd.gapMs);
      return cmd.report ? { ok: true, times } : { ok: true };
    }
  }
}

if (process.send) {
  process.on('message', (cmd: PeerCommand) => {
    handle(cmd).then(
      (reply) => process.send?.(reply),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }),
    );
  });
  // The parent went away (or is done): nothing may outlive it.
  process.on('disconnect', () => {
    for (const p of peers) p.client.close();
    process.exit(0);
  });
}
