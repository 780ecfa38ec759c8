// The fault proxy itself, against a loopback echo server: pass, latency, a black hole that holds bytes and
// closes nothing, and resets.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { FaultProxy } from '../support/proxy.js';

let echo: Server;
let echoAddress: string;
/** Bytes the echo server has read. */
let echoed = 0;
const proxies: FaultProxy[] = [];
const sockets: Socket[] = [];

before(async () => {
  echo = createServer((s) => {
    s.on('error', () => {}); // the proxy resets its side on purpose
    s.on('data', (d) => {
      echoed += d.length;
    });
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  const addr = echo.address();
  assert.ok(addr && typeof addr === 'object');
  echoAddress = `127.0.0.1:${addr.port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(proxies.map((p) => p.close()));
  await new Promise((resolve) => echo.close(resolve));
});

async function proxy(): Promise<FaultProxy> {
  const p = await FaultProxy.start(echoAddress);
  proxies.push(p);
  return p;
}

/** A client through the proxy that keeps what it reads and how it ended. */
async function client(p: FaultProxy) {
  const socket = connect(p.port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  let error: NodeJS.ErrnoException | undefined;
  let closed = false;
  socket.on('data', (d) => {
    text += d.toString();
  });
  socket.on('error', (e) => {
    error = e;
  });
  socket.on('close', () => {
    closed = true;
  });
  // A reset right at accept may reach the client before its connect event does.
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve());
  });
  return {
    socket,
    text: () => text,
    error: () => error,
    closed: () => closed,
  };
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('pass: bytes flow both ways', async () => {
  const p = await proxy();
  const c = await client(p);
  c.socket.write('hello');
  await until('echo', () => c.text() === 'hello');
  assert.equal(p.open, 1);
});

test('latency: each way, so a round trip takes twice as long', async () => {
  const p = await proxy();
  p.latencyMs = 150;
  const c = await client(p);
  const t0 = Date.now();
  c.socket.write('slow');
  await until('echo', () => c.text() === 'slow');
  const rtt = Date.now() - t0;
  assert.ok(rtt >= 290 && rtt < 1500, `round trip ${rtt} ms`);
});

test('blackhole: nothing passes, nothing closes; held bytes arrive after healing, in order', async () => {
  const p = await proxy();
  const c = await client(p);
  c.socket.write('a');
  await until('first echo', () => c.text() === 'a');
  p.setMode('blackhole');
  c.socket.write('b');
  c.socket.write('c');
  await sleep(300);
  assert.equal(c.text(), 'a', 'no byte passed');
  assert.equal(c.closed(), false);
  // A connection opened during the partition gets its TCP accept, and nothing else.
  const late = await client(p);
  late.socket.write('x');
  await sleep(200);
  assert.equal(late.text(), '');
  assert.equal(late.closed(), false);
  p.setMode('pass');
  await until('held bytes', () => c.text() === 'abc' && late.text() === 'x');
});

test('silent: bytes from the client reach the target, those from the target are held until healing', async () => {
  const p = await proxy();
  const c = await client(p);
  p.setMode('silent');
  const before = echoed;
  c.socket.write('q');
  await until('the target read it', () => echoed === before + 1);
  await sleep(200);
  assert.equal(c.text(), '', 'the echo is held');
  assert.equal(c.closed(), false);
  p.setMode('pass');
  await until('held echo', () => c.text() === 'q');
});

test('reset: open connections get RST, and so does every new one until the mode changes', async () => {
  const p = await proxy();
  const c = await client(p);
  c.socket.write('a');
  await until('echo', () => c.text() === 'a');
  p.setMode('reset');
  await until('reset', () => c.closed());
  assert.equal(c.error()?.code, 'ECONNRESET');
  const next = await client(p);
  await until('new one reset', () => next.closed());
  assert.equal(next.error()?.code, 'ECONNRESET');
  p.setMode('pass');
  const ok = await client(p);
  ok.socket.write('back');
  await until('echo again', () => ok.text() === 'back');
});

test('resetAll: a one-off reset of the connections of the moment', async () => {
  const p = await proxy();
  const c = await client(p);
  p.resetAll();
  await until('reset', () => c.closed());
  assert.equal(c.error()?.code, 'ECONNRESET');
  assert.equal(p.mode, 'pass');
  const again = await client(p);
  again.socket.write('z');
  await until('echo', () => again.text() === 'z');
  assert.equal(p.accepted, 2);
});
