/**
 * The churning peers of bench/soak, forked as their own process (see ipc-child.ts for the parent's side): 200
 * ZooKeeper sessions' sockets, pings and reconnect storms must not share a loop with the soak driver's timers,
 * nor with the node under test.
 *
 * Each peer is its own node-zookeeper-client client, so its own session, and has at most one registration
 * (EPHEMERAL_SEQUENTIAL, kimserver's JSON) and one call in flight. While churning, steps start at random
 * (exponential gaps, i.e. a Poisson process at the asked rate) on a random idle peer:
 *   a peer without a node joins;
 *   a peer with one changes its data (new worker_cnt and active_time) or, half the time, leaves: mostly by
 *   deleting its node, sometimes by closing its session (then it opens a new one, as a restarted server would).
 * Every join advertises a port never used before, so no two znodes are one server and none shadows another
 * in the table: the node under test must then hold exactly ZooKeeper's children.
 *
 * Calls fail while ZooKeeper servers restart; a failed step is counted and not retried. Its effect may still
 * have happened (a create whose reply was lost leaves a node the peer does not know of, until its session
 * ends): ZooKeeper's truth, read at the end by an independent client, is what the table is checked against.
 */
import zookeeper, { type Client, CreateMode } from 'node-zookeeper-client';
import { type IpcReply, serveCommands } from './ipc-child.js';
import { peerJson } from './peer-client.js';

export type PeersCommand =
  | { op: 'connect'; connectString: string; count: number; folder: string }
  | { op: 'join'; count: number }
  | { op: 'churn'; ratePerS: number }
  | { op: 'stop' };

export interface ChurnCounts {
  joins: number;
  leaves: number;
  /** Leaves by closing the session rather than deleting the node (included in `leaves`). */
  sessionLeaves: number;
  changes: number;
  /** Steps whose call failed, by error name. */
  failed: Record<string, number>;
  /** Peer sessions that expired (each was replaced by a new one). */
  peerExpiries: number;
}
export type PeersReply = { ok: true; counts: ChurnCounts };

/** The most a server with tickTime 500 grants: a peer's session must outlive a server restart. */
const SESSION_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 20_000;
const CONNECT_CONCURRENCY = 50;
const SESSION_LEAVE_SHARE = 0.25;
/** stop() waits this long for steps in flight. */
const DRAIN_MS = 15_000;
const BASE_PORT = 10_000;
const OPEN_ACL = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];

interface Peer {
  client: Client;
  node: string | null;
  port: number;
  /** A step is in flight, or the peer is between sessions. */
  busy: boolean;
}

const peers: Peer[] = [];
const counts: ChurnCounts = {
  joins: 0,
  leaves: 0,
  sessionLeaves: 0,
  changes: 0,
  failed: {},
  peerExpiries: 0,
};
let connectString = '';
let folder = '';
let nextPort = BASE_PORT;
let churnTimer: NodeJS.Timeout | undefined;
const inFlight = new Set<Promise<void>>();
let stopping = false;

function openSession(): Promise<Client> {
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

/** An expired client is dead (node-zookeeper-client never recovers it): the peer gets a new session. */
function watchExpiry(peer: Peer): void {
  const client = peer.client;
  client.on('state', (state) => {
    if (state !== zookeeper.State.EXPIRED || peer.client !== client || stopping) return;
    counts.peerExpiries++;
    peer.node = null;
    peer.busy = true;
    track(newSession(peer).finally(() => (peer.busy = false)));
  });
}

/** Closes the peer's session (its node goes with it) and opens a new one, retrying until it connects. */
async function newSession(peer: Peer): Promise<void> {
  // Not awaited: with its server just killed, close() may never see the server's answer.
  peer.client.close();
  for (;;) {
    try {
      peer.client = await openSession();
      watchExpiry(peer);
      return;
    } catch (err) {
      if (stopping) throw err;
    }
  }
}

async function connect(count: number): Promise<void> {
  for (let i = 0; i < count; i += CONNECT_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, count - i) }, () => openSession());
    for (const client of await Promise.all(batch)) {
      const peer: Peer = { client, node: null, port: 0, busy: false };
      peers.push(peer);
      watchExpiry(peer);
    }
  }
  await new Promise<void>((resolve, reject) =>
    peers[0].client.mkdirp(folder, (err) => (err ? reject(err) : resolve())),
  );
}

function call(fn: (done: (err: unknown, result?: string) => void) => void): Promise<string> {
  return new Promise((resolve, reject) => fn((err, result) => (err ? reject(err) : resolve(result ?? ''))));
}

function data(peer: Peer): Buffer {
  return Buffer.from(peerJson('', 'peer', peer.port, 1 + Math.floor(Math.random() * 4)));
}

async function join(peer: Peer): Promise<void> {
  peer.port = nextPort++;
  peer.node = await call((done) =>
    peer.client.create(`${folder}/soak-peer`, data(peer), OPEN_ACL, CreateMode.EPHEMERAL_SEQUENTIAL, done),
  );
  counts.joins++;
}

async function change(peer: Peer, node: string): Promise<void> {
  await call((done) => peer.client.setData(node, data(peer), -1, (err) => done(err)));
  counts.changes++;
}

async function leave(peer: Peer, node: string): Promise<void> {
  if (Math.random() < SESSION_LEAVE_SHARE) {
    peer.node = null;
    counts.leaves++;
    counts.sessionLeaves++;
    await newSession(peer);
    return;
  }
  try {
    await call((done) => peer.client.remove(node, -1, (err) => done(err)));
  } catch (err) {
    // Gone already: an earlier remove whose reply was lost went through.
    if ((err as { code?: number }).code !== zookeeper.Exception.NO_NODE) throw err;
  }
  peer.node = null;
  counts.leaves++;
}

function step(peer: Peer): Promise<void> {
  const node = peer.node;
  if (node === null) return join(peer);
  return Math.random() < 0.5 ? change(peer, node) : leave(peer, node);
}

function track(p: Promise<void>): void {
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
}

/** One step on a random idle peer (a few tries; all busy means ZooKeeper is slow, so skip one). */
function tick(): void {
  for (let i = 0; i < 8; i++) {
    const peer = peers[Math.floor(Math.random() * peers.length)];
    if (peer.busy) continue;
    peer.busy = true;
    track(
      step(peer)
        .catch((err: unknown) => {
          const name = (err as { name?: string }).name ?? 'Error';
          counts.failed[name] = (counts.failed[name] ?? 0) + 1;
        })
        .finally(() => {
          peer.busy = false;
        }),
    );
    return;
  }
}

function churn(ratePerS: number): void {
  const next = () => {
    // Exponential gaps: a steady rate on average, with the bunching a real fleet has.
    const gap = (-Math.log(1 - Math.random()) * 1000) / ratePerS;
    churnTimer = setTimeout(() => {
      tick();
      next();
    }, gap);
  };
  next();
}

async function stop(): Promise<void> {
  clearTimeout(churnTimer);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...inFlight]),
    new Promise((resolve) => {
      timer = setTimeout(resolve, DRAIN_MS);
    }),
  ]);
  clearTimeout(timer);
}

async function handle(cmd: PeersCommand): Promise<IpcReply | PeersReply> {
  switch (cmd.op) {
    case 'connect':
      connectString = cmd.connectString;
      folder = cmd.folder;
      await connect(cmd.count);
      return { ok: true };
    case 'join':
      await Promise.all(peers.slice(0, cmd.count).map((p) => join(p)));
      return { ok: true };
    case 'churn':
      churn(cmd.ratePerS);
      return { ok: true };
    case 'stop':
      await stop();
      return { ok: true, counts };
  }
}

// The parent went away (or is done): nothing may outlive it.
serveCommands(handle, () => {
  stopping = true;
  clearTimeout(churnTimer);
  for (const p of peers) p.client.close();
  process.exit(0);
});
