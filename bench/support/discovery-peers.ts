/**
 * The peers of bench/discovery, forked as their own processes (see discovery-fleet.ts for the parent's side), so
 * the measured event loop carries only the discovery client under test: 1,000 sessions' sockets, pings and
 * replies would otherwise be work on that same loop.
 *
 * Each peer is its own node-zookeeper-client client, so its own ZooKeeper session. Commands come over IPC
 * and each gets exactly one reply. A peer is connected (a session, no node yet), then joined (it has its node),
 * then gone (closed; a closed client cannot connect again, so new peers are connected for a rejoin). Reported
 * times are monoNow() (CLOCK_MONOTONIC, shared with the parent process) taken just before the peer's call, so
 * a sample holds everything the call sets off, ZooKeeper's part included:
 *   join    create of `{folder}/peer-{port}`, EPHEMERAL, with its JSON in the create (every connected peer)
 *   change  setData with new JSON (worker_cnt 3, a new active_time) (every joined peer)
 *   leave   graceful close of the session (the first `count` joined peers, or all); the reply waits for the
 *           client's 'disconnected', so a later command never races the closes
 * Steps start `gapMs` apart (0: all at once) without waiting for earlier ones to finish.
 */
import zookeeper, { type Client, CreateMode } from 'node-zookeeper-client';
import { monoNow } from '../../src/clock.js';
import { instrumentClient } from '../../src/zk/nzk-internals.js';
import { serveCommands } from './ipc-child.js';
import { peerJson } from './peer-client.js';

export type StepOp = 'join' | 'change' | 'leave';
export type PeerCommand =
  | { op: 'connect'; connectString: string; count: number; basePort: number; sessionTimeoutMs: number }
  | { op: 'mkdirp'; path: string }
  | { op: StepOp; gapMs: number; report: boolean; count?: number };

export type PeerReply = { ok: true; times?: [path: string, t: number][] } | { ok: false; error: string };

/** Sessions opened at once while connecting, so ZooKeeper's accept queue is not flooded. */
const CONNECT_CONCURRENCY = 500;
const CONNECT_TIMEOUT_MS = 10_000;
const CONNECT_ATTEMPTS = 3;
const OPEN_ACL = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];

interface Peer {
  client: Client;
  port: number;
  path: string;
  joined: boolean;
}

let peers: Peer[] = [];
let folder = '';
/** Ports (the peers' names) are never reused within a process, so a rejoining peer is a new node. */
let nextPort = 0;

function connectOnce(connectString: string, sessionTimeoutMs: number): Promise<Client> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: sessionTimeoutMs, retries: 0 });
  // zkbio's frame handling, and nothing it reports. In three of four full runs on 2026-12-02, two peer processes
  // at once threw "Unknown code: <a large number>" from the library's socket handler, ending the run: a misframed
  // read, as when the library drops a socket and keeps the bytes left in its read in front of the next one's.
  instrumentClient(client, {
    onSocketError: () => {},
    onHeard: () => {},
    attemptTimeoutMs: CONNECT_TIMEOUT_MS,
  });
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

/**
 * A new peer session, with a fresh client for each of up to CONNECT_ATTEMPTS tries. Connecting is set-up, never
 * timed, and right after thousands of sessions closed at once the server can leave one handshake unanswered for
 * 10 s (seen in a full run, in the mass step's rejoin): one such peer must not end the whole benchmark.
 */
async function connectOne(connectString: string, sessionTimeoutMs: number): Promise<Client> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(connectString, sessionTimeoutMs);
    } catch (err) {
      if (attempt === CONNECT_ATTEMPTS) throw err;
    }
  }
}

async function connect(cmd: Extract<PeerCommand, { op: 'connect' }>): Promise<void> {
  nextPort = Math.max(nextPort, cmd.basePort);
  for (let i = 0; i < cmd.count; i += CONNECT_CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONNECT_CONCURRENCY, cmd.count - i) }, () =>
      connectOne(cmd.connectString, cmd.sessionTimeoutMs),
    );
    for (const client of await Promise.all(batch))
      peers.push({ client, port: nextPort++, path: '', joined: false });
  }
}

function mkdirp(path: string): Promise<void> {
  folder = path;
  return new Promise((resolve, reject) =>
    peers[0].client.mkdirp(path, (err) => (err ? reject(err) : resolve())),
  );
}

/** Starts one peer's step: returns the time just before its call and the call's completion. */
function step(op: StepOp, peer: Peer): [number, Promise<void>] {
  let started = 0;
  const done = new Promise<void>((resolve, reject) => {
    const finish = (err: unknown) => (err ? reject(err) : resolve());
    if (op === 'join') {
      peer.path = `${folder}/peer-${peer.port}`;
      const data = Buffer.from(peerJson(peer.path, 'peer', peer.port));
      started = monoNow();
      peer.client.create(peer.path, data, OPEN_ACL, CreateMode.EPHEMERAL, (err) => finish(err));
    } else if (op === 'change') {
      const data = Buffer.from(peerJson(peer.path, 'peer', peer.port, 3));
      started = monoNow();
      peer.client.setData(peer.path, data, -1, (err) => finish(err));
    } else {
      peer.client.once('disconnected', () => finish(null));
      started = monoNow();
      peer.client.close();
    }
  });
  return [started, done];
}

function selected(op: StepOp, count: number | undefined): Peer[] {
  const pool = op === 'join' ? peers.filter((p) => !p.joined) : peers.filter((p) => p.joined);
  return count === undefined ? pool : pool.slice(0, count);
}

async function run(op: StepOp, gapMs: number, count: number | undefined): Promise<[string, number][]> {
  const chosen = selected(op, count);
  const times: [string, number][] = [];
  const steps: Promise<void>[] = [];
  for (const peer of chosen) {
    if (gapMs > 0 && steps.length > 0) await new Promise((r) => setTimeout(r, gapMs));
    const [started, done] = step(op, peer);
    times.push([peer.path, started]);
    steps.push(done);
  }
  await Promise.all(steps);
  if (op === 'join') for (const p of chosen) p.joined = true;
  if (op === 'leave') {
    const gone = new Set(chosen);
    peers = peers.filter((p) => !gone.has(p));
  }
  return times;
}

async function handle(cmd: PeerCommand): Promise<PeerReply> {
  switch (cmd.op) {
    case 'connect':
      await connect(cmd);
      return { ok: true };
    case 'mkdirp':
      await mkdirp(cmd.path);
      return { ok: true };
    default: {
      const times = await run(cmd.op, cmd.gapMs, cmd.count);
      return cmd.report ? { ok: true, times } : { ok: true };
    }
  }
}

// The parent went away (or is done): nothing may outlive it.
serveCommands(handle, () => {
  for (const p of peers) p.client.close();
  process.exit(0);
});
