// ZkSession against a real ZooKeeper on loopback: results and error codes of every call, watches through
// onEvent in order, bounded connect, close with the server down, expiry, protected create and digest ACLs.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Logger, pino } from 'pino';
import { freePorts } from '../../src/cli/zk_server.js';
import { digestId, Perms } from '../../src/zk/acl.js';
import {
  ZBADARGUMENTS,
  ZBADVERSION,
  ZCLOSING,
  ZCONNECTIONLOSS,
  ZkError,
  ZNOAUTH,
  ZNODEEXISTS,
  ZNONODE,
  ZNOTEMPTY,
  ZSESSIONEXPIRED,
  zkErrorCode,
} from '../../src/zk/errors.js';
import { CreateMode, type ZkEvent, ZkSession, type ZkSessionOptions } from '../../src/zk/session.js';
import { FaultProxy } from '../support/proxy.js';
import { startZk, type ZkHandle } from '../support/zk-server.js';

let zk: ZkHandle;
const sessions: ZkSession[] = [];
const servers: ZkHandle[] = [];
const children: ChildProcess[] = [];
const proxies: FaultProxy[] = [];

/** This run's chroot: with ZK_SERVERS the ensemble outlives the run, so every run works in a fresh folder. */
const ROOT = `/zkbio-session-test-${process.pid}-${Date.now().toString(36)}`;
const OWNER_AUTH = 'zkbio:s3cret-pw';
/** The connect string with the chroot: every path in these tests is relative to ROOT. */
let connectString: string;

before(async () => {
  zk = await startZk();
  servers.push(zk);
  const setup = new ZkSession({ connectString: zk.connectString, connect: { deadlineMs: 10000 } });
  await setup.connect();
  await setup.mkdirp(ROOT);
  await setup.close();
  connectString = `${zk.connectString}${ROOT}`;
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(sessions.map((s) => s.close()));
  // An external ensemble (ZK_SERVERS) outlives the run: leave it as it was.
  if (zk?.external) {
    // With the ACL test's credential: its nodes are deletable by that identity only.
    const cleanup = new ZkSession({
      connectString: zk.connectString,
      auth: OWNER_AUTH,
      connect: { deadlineMs: 10000 },
    });
    await cleanup.connect();
    await removeTree(cleanup, ROOT);
    await cleanup.close();
  }
  await Promise.all(servers.map((s) => s.stop()));
});

async function removeTree(s: ZkSession, path: string): Promise<void> {
  for (const child of (await s.getChildren(path)).children) await removeTree(s, `${path}/${child}`);
  await s.delete(path);
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function open(
  options: Partial<ZkSessionOptions> = {},
  cs = connectString,
): Promise<{ s: ZkSession; events: ZkEvent[] }> {
  const events: ZkEvent[] = [];
  const s = new ZkSession({
    connectString: cs,
    sessionTimeoutMs: 4000,
    onEvent: (e) => events.push(e),
    connect: { deadlineMs: 10000 },
    ...options,
  });
  sessions.push(s);
  await s.connect();
  return { s, events };
}

/** Resolves with the rejection's ZkError code (fails the test if the call succeeded or threw something else). */
async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ZkError, `a ZkError, got ${String(err)}`);
    assert.equal(zkErrorCode(err).code, err.code);
    return err.code;
  }
  assert.fail('the call succeeded');
}

function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: pino<never>({ level: 'debug' }, { write: (l: string) => lines.push(l) }), lines };
}

test('connect gives a session id and timeout', async () => {
  const { s, events } = await open();
  assert.match(s.sessionId, /^[0-9a-f]{16}$/);
  assert.ok(s.sessionTimeout >= 1000 && s.sessionTimeout <= 10000, `negotiated ${s.sessionTimeout}`);
  assert.equal(s.state, 'connected');
  assert.deepEqual(events, [{ type: 'state', state: 'connected', sessionId: s.sessionId }]);
});

test('calls: results and error codes', async () => {
  const { s } = await open();
  await s.mkdirp('/calls/a/b');
  await s.mkdirp('/calls/a/b'); // again: nothing to do
  assert.equal(await s.create('/calls/a/b/n', 'x'), '/calls/a/b/n');
  assert.equal(await codeOf(s.create('/calls/a/b/n', 'y')), ZNODEEXISTS);
  assert.equal(await codeOf(s.create('/calls/none/n', 'y')), ZNONODE);
  assert.equal(await codeOf(s.create('no-slash', 'y')), ZBADARGUMENTS);

  const got = await s.get('/calls/a/b/n');
  assert.equal(got.data, 'x');
  assert.equal(got.stat.version, 0);
  assert.equal(got.stat.ephemeralOwner, '0000000000000000');
  assert.equal(await codeOf(s.get('/calls/missing')), ZNONODE);

  assert.equal(await codeOf(s.set('/calls/a/b/n', 'z', 5)), ZBADVERSION);
  assert.equal((await s.set('/calls/a/b/n', 'z', 0)).version, 1);
  assert.equal((await s.set('/calls/a/b/n', null)).version, 2, 'null data is written as empty (#94)');
  assert.equal((await s.get('/calls/a/b/n')).data, '');

  assert.deepEqual((await s.getChildren('/calls/a/b')).children, ['n']);
  assert.equal(await codeOf(s.getChildren('/calls/missing')), ZNONODE);
  assert.equal(await s.exists('/calls/missing'), null);
  assert.equal((await s.exists('/calls/a/b/n'))?.version, 2);

  assert.equal(await codeOf(s.delete('/calls/a')), ZNOTEMPTY);
  assert.equal(await codeOf(s.delete('/calls/a/b/n', 0)), ZBADVERSION);
  await s.delete('/calls/a/b/n', 2);
  assert.equal(await codeOf(s.delete('/calls/a/b/n')), ZNONODE);

  const eph = await s.create('/calls/e-', 'd', CreateMode.EPHEMERAL_SEQUENTIAL);
  assert.match(eph, /^\/calls\/e-\d{10}$/);
  assert.equal((await s.exists(eph))?.ephemeralOwner, s.sessionId);
});

test('get decodes its reply itself: the stat the library gives exists(), the data byte for byte, in order', async () => {
  const { s } = await open();
  await s.mkdirp('/decode');
  const text = 'h\u00e9llo \u4e16\u754c \u{1f600} '.repeat(50);
  await s.create('/decode/n', text);
  await s.create('/decode/n/c1', '');
  await s.create('/decode/n/c2', '');
  await s.set('/decode/n', text, 0);
  const eph = await s.create('/decode/e', 'x', CreateMode.EPHEMERAL);
  for (const path of ['/decode/n', eph, '/decode/n/c1']) {
    const got = await s.get(path);
    assert.deepEqual(got.stat, await s.exists(path), `${path}: every stat field as the library decodes it`);
  }
  const n = await s.get('/decode/n');
  assert.equal(n.data, text);
  assert.equal(n.stat.version, 1);
  assert.equal(n.stat.numChildren, 2);
  assert.equal(n.stat.dataLength, Buffer.byteLength(text));
  assert.ok(Math.abs(n.stat.mtime - Date.now()) < 60_000, `mtime ${n.stat.mtime} is a time in ms`);
  assert.equal((await s.get(eph)).stat.ephemeralOwner, s.sessionId);
  // Interleaved with the library's own calls, in flight together: each answer is its own.
  const calls = Array.from({ length: 300 }, (_, i) =>
    i % 3 === 0
      ? s.get(i % 2 ? '/decode/n/c1' : '/decode/n').then((r) => r.data.length)
      : i % 3 === 1
        ? s.exists('/decode/n').then((st) => st?.numChildren)
        : s.get('/decode/missing').catch((err) => zkErrorCode(err).code),
  );
  const want = Array.from({ length: 300 }, (_, i) =>
    i % 3 === 0 ? (i % 2 ? 0 : text.length) : i % 3 === 1 ? 2 : ZNONODE,
  );
  assert.deepEqual(await Promise.all(calls), want);
  assert.equal(await codeOf(s.get('/decode/')), ZBADARGUMENTS, 'the paths the library refuses');
});

test('watches fire once each, in order, through onEvent', async () => {
  const { s, events } = await open();
  const { s: other } = await open();
  await s.mkdirp('/w');
  await s.create('/w/n', '1');
  const watches = () => events.filter((e) => e.type === 'watch');

  await s.get('/w/n', true);
  await s.get('/w/n', true); // re-arming a pending watch does not double it
  await s.getChildren('/w', true);
  assert.equal(await s.exists('/w/later', true), null);

  await other.set('/w/n', '2');
  await waitFor('dataChanged', () => watches().length >= 1);
  await other.create('/w/later', '');
  await waitFor('created + childrenChanged', () => watches().length >= 3);
  await other.delete('/w/n');
  await other.set('/w/later', 'x'); // no watch left on it: one-shot
  await s.exists('/w'); // a round trip after the writes, so any stray event would have arrived
  await new Promise((r) => setTimeout(r, 100));

  const seen = watches();
  assert.deepEqual(seen[0], { type: 'watch', kind: 'dataChanged', path: '/w/n' });
  assert.deepEqual(
    new Set(seen.slice(1).map((e) => JSON.stringify(e))),
    new Set([
      JSON.stringify({ type: 'watch', kind: 'created', path: '/w/later' }),
      JSON.stringify({ type: 'watch', kind: 'childrenChanged', path: '/w' }),
    ]),
  );
  assert.equal(seen.length, 3, `exactly three watch events: ${JSON.stringify(seen)}`);
});

test('connect to an unreachable port fails within its bound and reports each retry', async () => {
  const [port] = await freePorts(1); // closed again: nothing listens there
  const events: ZkEvent[] = [];
  const { logger, lines } = captureLogs();
  const s = new ZkSession({
    connectString: `127.0.0.1:${port}`,
    onEvent: (e) => events.push(e),
    logger,
    connect: { attemptTimeoutMs: 500, deadlineMs: 1500, backoffBaseMs: 100 },
  });
  sessions.push(s);
  const t0 = Date.now();
  const code = await codeOf(s.connect());
  const took = Date.now() - t0;
  assert.equal(code, ZCONNECTIONLOSS);
  assert.ok(took < 2500, `gave up after ${took} ms`);
  const failures = events.filter((e) => e.type === 'connectFailed');
  assert.ok(failures.length >= 2, `several attempts: ${JSON.stringify(failures)}`);
  assert.match(failures[0].type === 'connectFailed' ? failures[0].message : '', /ECONNREFUSED/);
  assert.equal(failures.at(-1)?.type === 'connectFailed' && failures.at(-1)?.retryInMs, null);
  assert.equal(lines.filter((l) => l.includes('connect attempt failed')).length, failures.length);
  assert.equal(s.socketOpen, false);
  await s.close();
});

test('close() really closes while the server is down, killed or frozen (#60)', {
  timeout: 60000,
}, async () => {
  const own = await startZk({ local: true });
  servers.push(own);
  const server = own.server(1);
  const baseline = tcpSockets();

  // Killed: the library would keep reconnecting after close().
  const { s: a, events } = await open({ spinDelayMs: 200, closeTimeoutMs: 500 }, own.connectString);
  await a.create('/k', '', CreateMode.EPHEMERAL);
  assert.equal(tcpSockets(), baseline + 1);
  await server.kill('SIGKILL');
  await waitFor('disconnected', () => events.some((e) => e.type === 'state' && e.state === 'disconnected'));
  let t0 = Date.now();
  await a.close();
  assert.ok(Date.now() - t0 < 1500, `close took ${Date.now() - t0} ms`);
  assert.equal(a.socketOpen, false);
  await new Promise((r) => setTimeout(r, 600)); // longer than spinDelay: no reconnect opens a socket
  assert.equal(tcpSockets(), baseline, 'no socket left after close with the server killed');
  assert.equal(await codeOf(a.get('/k')), ZCLOSING);

  // Frozen: TCP still connects (the kernel accepts), but nothing ever answers the close request.
  await server.start();
  const { s: b } = await open({ closeTimeoutMs: 500 }, own.connectString);
  await server.kill('SIGSTOP');
  try {
    t0 = Date.now();
    await b.close();
    assert.ok(Date.now() - t0 < 1500, `close took ${Date.now() - t0} ms`);
    assert.equal(b.socketOpen, false);
    assert.equal(tcpSockets(), baseline, 'no socket left after close with the server frozen');
  } finally {
    await server.kill('SIGCONT');
  }
  await own.stop();
});

test('an expired session is reported, and the session is dead', { timeout: 60000 }, async () => {
  const { s: observer, events } = await open();
  await observer.mkdirp('/expiry');
  const script = fileURLToPath(new URL('../support/zk-session-child.js', import.meta.url));
  const child = spawn(process.execPath, [script, connectString, '/expiry/child', '2000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const exited = new Promise((r) => child.once('exit', r));
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
  await waitFor('child ready', () => lines.some((l) => l.ready === true), 15000);
  const ready = lines.find((l) => l.ready === true)!;
  assert.equal((await observer.exists('/expiry/child', true))?.ephemeralOwner, ready.sessionId);

  // Frozen past its session timeout, the child's session expires: the server deletes its ephemeral node.
  child.kill('SIGSTOP');
  try {
    await waitFor(
      'the ephemeral node to go',
      () => events.some((e) => e.type === 'watch' && e.kind === 'deleted' && e.path === '/expiry/child'),
      Number(ready.sessionTimeout) + 8000,
    );
  } finally {
    child.kill('SIGCONT');
  }
  await waitFor(
    'child sees expired',
    () => lines.some((l) => l.type === 'state' && l.state === 'expired'),
    10000,
  );
  child.kill('SIGTERM');
  await exited;
});

test('expired state makes calls fail with ZSESSIONEXPIRED', async () => {
  // Same path as a real expiry, without the wait: the library reports EXPIRED, the session marks itself dead.
  const { s, events } = await open();
  const client = (s as unknown as { client: { emit(e: string, v: unknown): void } }).client;
  const zkLib = (await import('node-zookeeper-client')).default;
  client.emit('state', zkLib.State.EXPIRED);
  assert.deepEqual(events.at(-1), { type: 'state', state: 'expired', sessionId: s.sessionId });
  assert.equal(s.dead, true);
  assert.equal(await codeOf(s.get('/')), ZSESSIONEXPIRED);
});

test('a call still waiting when the session expires fails at once, not after its call timeout', async () => {
  // The library fails only the requests it has sent; one queued while it reconnects is never answered (seen
  // in bench/soak: the Bio worker stalled a whole call timeout after each expiry). A paused socket stands in
  // for the answer that never comes.
  const { s } = await open({ callTimeoutMs: 10_000 });
  const client = (s as unknown as { client: { emit(e: string, v: unknown): void } }).client;
  const cm = (s as unknown as { client: { connectionManager: { socket: import('node:net').Socket } } }).client
    .connectionManager;
  cm.socket.pause();
  const waiting = s.get('/');
  const zkLib = (await import('node-zookeeper-client')).default;
  const t0 = Date.now();
  client.emit('state', zkLib.State.EXPIRED);
  assert.equal(await codeOf(waiting), ZSESSIONEXPIRED);
  assert.ok(Date.now() - t0 < 1000, `failed after ${Date.now() - t0} ms`);
});

test('protected create: a lost reply leaves exactly one registration, and its payload', {
  timeout: 30000,
}, async () => {
  const { logger, lines } = captureLogs();
  const { s } = await open({ logger, spinDelayMs: 50 });
  await s.mkdirp('/reg/nodes/gate');
  await s.mkdirp('/reg/payload/gate');

  // Lose the reply: stop reading the socket, let the create reach the server, then drop the connection.
  const cm = (s as unknown as { client: { connectionManager: { socket: import('node:net').Socket } } }).client
    .connectionManager;
  const socket = cm.socket;
  socket.pause();
  const created = s.createProtected('/reg/nodes/gate', 'srv-gate', '{"host":"127.0.0.1"}', {
    payload: { parentPath: '/reg/payload/gate', data: '{"load":0}' },
  });
  setTimeout(() => socket.destroy(), 300);
  const { path, payloadPath } = await created;

  assert.ok(
    lines.some((l) => l.includes('create reply lost')),
    'the create reply was lost',
  );
  assert.ok(
    lines.some((l) => l.includes('found our node')),
    'and the node was found, not created again',
  );
  assert.match(path, /^\/reg\/nodes\/gate\/srv-gate\d{10}$/);
  assert.equal(payloadPath, `/reg/payload/gate/${path.split('/').at(-1)}`);
  const { s: other } = await open();
  const { children } = await other.getChildren('/reg/nodes/gate');
  assert.equal(children.length, 1, `one registration: ${children.join(',')}`);
  const own = await other.get(path);
  assert.equal(own.data, '{"host":"127.0.0.1"}');
  assert.equal(own.stat.ephemeralOwner, s.sessionId);
  assert.equal((await other.get(payloadPath!)).data, '{"load":0}');

  // Without a lost reply: a second registration is a plain create.
  const second = await s.createProtected('/reg/nodes/gate', 'srv2-gate', 'x');
  assert.equal((await other.getChildren('/reg/nodes/gate')).children.length, 2);
  await s.close();
  assert.equal(await other.exists(second.path), null, 'a closed session takes its nodes at once');
  assert.equal(await other.exists(path), null);
});

test('digest ACLs: an outsider can read but not write; the password is never logged', async () => {
  const { logger, lines } = captureLogs();
  const { s: owner } = await open({ auth: OWNER_AUTH, logger });
  const acl = owner.defaultAcl();
  assert.deepEqual(acl, [
    { perms: Perms.READ, scheme: 'world', id: 'anyone' },
    { perms: Perms.ALL, scheme: 'digest', id: digestId('zkbio', 's3cret-pw') },
  ]);
  await owner.mkdirp('/acl/gate');
  await owner.create('/acl/gate/n', 'v');

  const { s: outsider } = await open();
  assert.equal((await outsider.get('/acl/gate/n')).data, 'v');
  assert.deepEqual((await outsider.getChildren('/acl/gate')).children, ['n']);
  assert.equal(await codeOf(outsider.set('/acl/gate/n', 'evil')), ZNOAUTH);
  assert.equal(await codeOf(outsider.create('/acl/gate/x', 'evil')), ZNOAUTH);
  assert.equal(await codeOf(outsider.delete('/acl/gate/n')), ZNOAUTH);

  const { s: wrongPassword } = await open({ auth: 'zkbio:guess' });
  assert.equal(await codeOf(wrongPassword.set('/acl/gate/n', 'evil')), ZNOAUTH);

  await owner.set('/acl/gate/n', 'v2');
  await owner.delete('/acl/gate/n');
  await owner.close();
  assert.ok(lines.length > 0);
  assert.ok(!lines.some((l) => l.includes('s3cret-pw')), 'no log line holds the password');
});

/** A fault proxy in front of the first ZooKeeper server. */
async function proxy(): Promise<FaultProxy> {
  const p = await FaultProxy.start(zk.connectString.split(',')[0]);
  proxies.push(p);
  return p;
}

/** The ms from `t0` until a state event `state` after the first `seen` events, waiting at most `ms`. */
async function stateAfter(
  events: ZkEvent[],
  state: string,
  t0: number,
  ms: number,
  seen = 1,
): Promise<number> {
  await waitFor(state, () => events.slice(seen).some((e) => e.type === 'state' && e.state === state), ms);
  return Date.now() - t0;
}

const states = (events: ZkEvent[]) => events.flatMap((e) => (e.type === 'state' ? [e.state] : []));

test('silent partition shorter than the session timeout: dropped within 2/3 of it, then the same session resumes', {
  timeout: 30000,
}, async () => {
  const p = await proxy();
  const { s, events } = await open({ sessionTimeoutMs: 4000 }, `${p.address}${ROOT}`);
  const t = s.sessionTimeout;
  const id = s.sessionId;
  await s.get('/'); // the link has just been heard from
  const t0 = Date.now();
  p.setMode('blackhole');
  const dropped = await stateAfter(events, 'disconnected', t0, t);
  assert.ok(dropped <= (2 * t) / 3 + 250, `disconnected ${dropped} ms into the partition (timeout ${t})`);
  await new Promise((r) => setTimeout(r, Math.max(0, (5 * t) / 6 - (Date.now() - t0))));
  p.setMode('pass');
  await stateAfter(events, 'connected', t0, t);
  assert.equal(s.sessionId, id, 'the same session');
  assert.deepEqual(states(events), ['connected', 'disconnected', 'connected']);
  assert.equal((await s.exists('/'))?.numChildren !== undefined, true, 'calls work again');
});

test('silent partition longer than the session timeout: lost after it, expired once the server is heard again', {
  timeout: 30000,
}, async () => {
  const p = await proxy();
  const { s, events } = await open({ sessionTimeoutMs: 2000 }, `${p.address}${ROOT}`);
  const t = s.sessionTimeout;
  await s.get('/');
  const t0 = Date.now();
  p.setMode('blackhole');
  const dropped = await stateAfter(events, 'disconnected', t0, t);
  assert.ok(dropped <= (2 * t) / 3 + 250, `disconnected ${dropped} ms into the partition (timeout ${t})`);
  const lost = await stateAfter(events, 'lost', t0, 2 * t);
  assert.ok(lost >= (2 * t) / 3 && lost <= t + 250, `lost ${lost} ms into the partition (timeout ${t})`);
  assert.equal(s.dead, false, 'lost is not the end: the server decides');
  await new Promise((r) => setTimeout(r, t + 1000)); // the server expires the session meanwhile
  p.setMode('pass');
  await stateAfter(events, 'expired', t0, 3 * t + 5000);
  assert.deepEqual(states(events), ['connected', 'disconnected', 'lost', 'expired']);
  assert.equal(s.dead, true);
});

test('an idle healthy link with latency is pinged and never judged dead', { timeout: 30000 }, async () => {
  const p = await proxy();
  const { s, events } = await open({ sessionTimeoutMs: 2000 }, `${p.address}${ROOT}`);
  p.latencyMs = s.sessionTimeout / 8; // a round trip of a quarter of the timeout
  await new Promise((r) => setTimeout(r, 3 * s.sessionTimeout));
  assert.deepEqual(states(events), ['connected']);
  assert.equal(p.accepted, 1, 'one connection all along');
});

test('a server that accepts but never answers the handshake is left in time: the session resumes on the next', {
  timeout: 30000,
}, async () => {
  // The flaky "ZooKeeper killed and restarted" case: a restarting JVM's port accepts before it answers. Here
  // the other server of a two-server connect string does so for good; the library alternates between them.
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const addr = silent.address();
  assert.ok(addr && typeof addr === 'object');
  const p = await proxy();
  try {
    const { s, events } = await open(
      { sessionTimeoutMs: 4000, connect: { attemptTimeoutMs: 3000, deadlineMs: 10000 } },
      `127.0.0.1:${addr.port},${p.address}${ROOT}`,
    );
    const id = s.sessionId;
    const t0 = Date.now();
    p.resetAll(); // the next server the library tries is the silent one
    await stateAfter(events, 'disconnected', t0, 1000);
    const back = await stateAfter(events, 'connected', t0, s.sessionTimeout);
    assert.ok(back < s.sessionTimeout / 2 + 500, `reconnected after ${back} ms`);
    assert.equal(s.sessionId, id);
    assert.deepEqual(states(events), ['connected', 'disconnected', 'connected']);
  } finally {
    silent.close();
  }
});

test('a connection a starting server accepts and never answers costs a short wait, not a share of the session timeout', {
  timeout: 30000,
}, async () => {
  // What a ZooKeeper JVM between binding its port and serving now and then does (1 of 4 starts in a probe here):
  // the first connection is accepted, and never answered nor closed. The later ones reach the real server.
  const [host, port] = zk.connectString.split(',')[0].split(':');
  const held: Socket[] = [];
  const starting = createServer((socket) => {
    if (held.length === 0) {
      held.push(socket);
      return;
    }
    const upstream = connect(Number(port), host);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => starting.listen(0, '127.0.0.1', () => resolve()));
  const addr = starting.address();
  assert.ok(addr && typeof addr === 'object');
  try {
    const t0 = Date.now();
    await open(
      { sessionTimeoutMs: 4000, connect: { attemptTimeoutMs: 3000, deadlineMs: 10000 } },
      `127.0.0.1:${addr.port}${ROOT}`,
    );
    const took = Date.now() - t0;
    assert.equal(held.length, 1, 'the first connection was held');
    // Before, the held socket kept the attempt for its whole share: min(3000, 2/3 of 4000) ms.
    assert.ok(took < 1000, `connected after ${took} ms`);
  } finally {
    for (const socket of held) socket.destroy();
    starting.close();
  }
});

test('a link cut in the middle of a reply: the next connection starts clean and the session resumes', {
  timeout: 30000,
}, async () => {
  const p = await proxy();
  const { s, events } = await open({ sessionTimeoutMs: 4000 }, `${p.address}${ROOT}`);
  await s.create('/cut-big', 'x'.repeat(200_000), CreateMode.PERSISTENT);
  const id = s.sessionId;
  const t0 = Date.now();
  // 1,000 bytes of a 200 kB reply arrive, then a reset. node-zookeeper-client kept them as the start of its next
  // frame, in front of the next socket's handshake answer: no session was ever heard from again.
  p.cutNextReply(1000);
  await assert.rejects(s.get('/cut-big'), (err) => zkErrorCode(err).code === ZCONNECTIONLOSS);
  await stateAfter(events, 'connected', t0, s.sessionTimeout);
  assert.equal(s.sessionId, id, 'the same session');
  assert.equal((await s.get('/cut-big')).data.length, 200_000, 'the whole reply on the new connection');
  assert.deepEqual(states(events), ['connected', 'disconnected', 'connected']);
});

test('digest auth: a call queued while disconnected runs after the auth packet, not ZNOAUTH', {
  timeout: 30000,
}, async () => {
  const p = await proxy();
  const { s, events } = await open({ auth: OWNER_AUTH, spinDelayMs: 50 }, `${p.address}${ROOT}`);
  await s.mkdirp('/auth-order');
  const path = await s.create('/auth-order/n', 'v1'); // world may read, only our identity may write
  p.setMode('reset');
  await waitFor('disconnected', () => s.state === 'disconnected');
  const write = s.set(path, 'v2'); // queued in the library until it reconnects
  const remove = s.delete(`${path}-missing`).catch((e: ZkError) => e.code);
  await new Promise((r) => setTimeout(r, 200));
  p.setMode('pass');
  assert.equal((await write).version, 1, 'the queued write went through');
  assert.equal(await remove, ZNONODE, 'and was answered as ours (ZNONODE), not ZNOAUTH');
  assert.equal((await s.get(path)).data, 'v2');
  assert.ok(states(events).includes('disconnected'));
  await s.delete(path);
});

test('zkErrorCode maps anything', () => {
  assert.deepEqual(zkErrorCode(new ZkError(ZNONODE, 'x')), { code: -101, name: 'ZNONODE' });
  assert.deepEqual(zkErrorCode(new Error('boom')), { code: -1, name: 'ZSYSTEMERROR' });
  assert.deepEqual(zkErrorCode('not even an error'), { code: -1, name: 'ZSYSTEMERROR' });
});
