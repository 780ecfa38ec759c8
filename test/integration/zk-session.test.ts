// ZkSession against a real ZooKeeper on loopback: results and error codes of every call, watches through
// onEvent in order, bounded connect, close with the server down, expiry, protected create and digest ACLs.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Logger, pino } from 'pino';
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
import { startZk, type ZkHandle } from '../support/zk-server.js';

let zk: ZkHandle;
const sessions: ZkSession[] = [];
const servers: ZkHandle[] = [];
const children: ChildProcess[] = [];

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

test('multi: all or nothing, with the failing op named', async () => {
  const { s } = await open();
  await s.mkdirp('/multi');
  const results = await s.multi([
    { op: 'create', path: '/multi/a', data: 'A' },
    { op: 'create', path: '/multi/s-', data: 'S', mode: CreateMode.PERSISTENT_SEQUENTIAL },
    { op: 'set', path: '/multi/a', data: 'A2', version: 0 },
    { op: 'check', path: '/multi', version: 0 },
  ]);
  assert.equal(results[0].op === 'create' && results[0].path, '/multi/a');
  assert.match(results[1].op === 'create' ? results[1].path : '', /^\/multi\/s-\d{10}$/);
  assert.equal(results[2].op === 'set' && results[2].stat.version, 1);
  assert.deepEqual(results[3], { op: 'check' });

  // Version 0 means version 0 (the library turns it into "any"): /multi/a is at version 1 now.
  const err = await s.multi([{ op: 'check', path: '/multi/a', version: 0 }]).catch((e: ZkError) => e);
  assert.ok(err instanceof ZkError && err.code === ZBADVERSION, String(err));

  const failed = await s
    .multi([
      { op: 'create', path: '/multi/b', data: 'B' },
      { op: 'create', path: '/multi/a', data: 'dup' },
      { op: 'delete', path: '/multi/a' },
    ])
    .catch((e: ZkError) => e);
  assert.ok(failed instanceof ZkError);
  assert.equal(failed.code, ZNODEEXISTS);
  assert.equal(failed.opIndex, 1);
  assert.equal(await s.exists('/multi/b'), null, 'nothing of a failed multi is applied');
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
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
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

test('zkErrorCode maps anything', () => {
  assert.deepEqual(zkErrorCode(new ZkError(ZNONODE, 'x')), { code: -101, name: 'ZNONODE' });
  assert.deepEqual(zkErrorCode(new Error('boom')), { code: -1, name: 'ZSYSTEMERROR' });
  assert.deepEqual(zkErrorCode('not even an error'), { code: -1, name: 'ZSYSTEMERROR' });
});
