// The start-up check of node-zookeeper-client's private shape: with a part missing, ZkSession and ZkClient
// refuse to start with a named error instead of failing somewhere inside a connection. And get's own decode of
// its reply, against a scripted server that can send what ZooKeeper never would.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { ZkbioError } from '../../src/errors.js';
import { ZCONNECTIONLOSS, zkErrorCode } from '../../src/zk/errors.js';
import { assertLibraryShape, ZkLibraryError } from '../../src/zk/nzk-internals.js';
import { type ZkEvent, ZkSession } from '../../src/zk/session.js';

const ConnectionManager = createRequire(import.meta.url)(
  'node-zookeeper-client/lib/ConnectionManager.js',
) as { prototype: Record<string, unknown> };

test('the installed node-zookeeper-client has every private part zkbio uses', () => {
  assert.doesNotThrow(() => assertLibraryShape());
});

test('a missing private part is a ZkLibraryError naming it, at ZkSession construction', () => {
  const original = ConnectionManager.prototype.onSocketData;
  delete ConnectionManager.prototype.onSocketData;
  try {
    const err = (() => {
      try {
        new ZkSession({ connectString: '127.0.0.1:1' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ZkLibraryError, String(err));
    assert.ok(err instanceof ZkbioError);
    assert.equal(err.code, 'ZK_LIBRARY_UNSUPPORTED');
    assert.deepEqual(err.missing, ['ConnectionManager.onSocketData()']);
    assert.match(
      err.message,
      /node-zookeeper-client 1\.1\.\d+ lacks .*onSocketData.*needs node-zookeeper-client 1\.1\.x/,
    );
  } finally {
    ConnectionManager.prototype.onSocketData = original;
  }
  assert.doesNotThrow(() => assertLibraryShape());
});

/**
 * A scripted ZooKeeper on loopback: it answers each connection's handshake, pings, and every getData with
 * `reply(connection, xid)`'s frame.
 */
async function scriptedServer(reply: (connection: number, xid: number) => Buffer): Promise<{
  address: string;
  close(): Promise<void>;
}> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let handshaken = false;
    socket.on('data', (bytes) => {
      pending = Buffer.concat([pending, bytes]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readInt32BE(0));
        pending = pending.subarray(frame.length);
        if (!handshaken) {
          handshaken = true;
          // protocolVersion, timeOut, sessionId, passwd (16 bytes)
          const answer = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16);
          answer.writeInt32BE(answer.length - 4, 0);
          answer.writeInt32BE(4000, 8);
          answer.writeBigInt64BE(0x1234n, 12);
          answer.writeInt32BE(16, 20);
          socket.write(answer);
          continue;
        }
        const xid = frame.readInt32BE(4);
        const type = frame.readInt32BE(8);
        if (type === 4) socket.write(reply(connection, xid));
        else socket.write(replyHeader(xid, 0, 0)); // a ping's answer
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A reply's frame: length, xid, zxid, err, then `body`. */
function replyHeader(xid: number, err: number, zxid: number, body = Buffer.alloc(0)): Buffer {
  const frame = Buffer.alloc(20 + body.length);
  frame.writeInt32BE(16 + body.length, 0);
  frame.writeInt32BE(xid, 4);
  frame.writeBigInt64BE(BigInt(zxid), 8);
  frame.writeInt32BE(err, 16);
  body.copy(frame, 20);
  return frame;
}

test("get's own decode: a reply shorter than it says fails its call with the connection, once; the next is read", {
  timeout: 20000,
}, async () => {
  const stat = Buffer.alloc(68);
  stat.writeBigInt64BE(7n, 0); // czxid
  stat.writeBigInt64BE(9n, 8); // mzxid
  stat.writeBigInt64BE(1_700_000_000_123n, 16); // ctime
  stat.writeBigInt64BE(1_700_000_000_456n, 24); // mtime
  stat.writeInt32BE(3, 32); // version
  stat.writeBigInt64BE(0x1234n, 44); // ephemeralOwner
  stat.writeInt32BE(2, 52); // dataLength
  stat.writeBigInt64BE(11n, 60); // pzxid
  const good = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('ok'), stat]);
  // It announces 1,000 data bytes and holds 2: the frame is whole, its content is not.
  const cut = Buffer.concat([Buffer.from([0, 0, 3, 0xe8]), Buffer.from('ok'), stat]);
  const server = await scriptedServer((connection, xid) =>
    replyHeader(xid, 0, 42, connection === 1 ? cut : good),
  );
  const events: ZkEvent[] = [];
  const s = new ZkSession({
    connectString: server.address,
    sessionTimeoutMs: 4000,
    connect: { deadlineMs: 5000 },
    onEvent: (e) => events.push(e),
  });
  try {
    await s.connect();
    const outcomes: unknown[] = [];
    await s.get('/n').then(
      (r) => outcomes.push(r),
      (err) => outcomes.push(zkErrorCode(err).code),
    );
    assert.deepEqual(outcomes, [ZCONNECTIONLOSS], 'the cut reply fails its call, not the process');
    const got = await s.get('/n');
    assert.equal(got.data, 'ok');
    assert.deepEqual(got.stat, {
      czxid: '0000000000000007',
      mzxid: '0000000000000009',
      pzxid: '000000000000000b',
      ctime: 1_700_000_000_123,
      mtime: 1_700_000_000_456,
      version: 3,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: '0000000000001234',
      dataLength: 2,
      numChildren: 0,
    });
    const states = events.flatMap((e) => (e.type === 'state' ? [e.state] : []));
    assert.deepEqual(
      states,
      ['connected', 'disconnected', 'connected'],
      'the broken stream dropped its connection',
    );
  } finally {
    await s.close();
    await server.close();
  }
});

test("get's replies each leave a zxid of their own: one taken earlier is not rewritten by the next", async () => {
  const data = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('x'), Buffer.alloc(68)]); // 1 data byte, a zero Stat
  const server = await scriptedServer((_connection, xid) => replyHeader(xid, 0, 1000 + xid, data));
  const s = new ZkSession({
    connectString: server.address,
    sessionTimeoutMs: 4000,
    connect: { deadlineMs: 5000 },
  });
  const zxid = () =>
    // biome-ignore lint/complexity/useLiteralKeys: the bracket reaches the library's connection, to read its zxid
    (s['client'] as unknown as { connectionManager: { zxid: Buffer } }).connectionManager.zxid;
  try {
    await s.connect();
    await s.get('/a');
    const first = zxid();
    const firstValue = first.readBigInt64BE(0);
    await s.get('/b');
    assert.equal(zxid().readBigInt64BE(0), firstValue + 1n, 'the second reply, one xid later');
    assert.equal(first.readBigInt64BE(0), firstValue, 'the buffer the first reply left is unchanged');
  } finally {
    await s.close();
    await server.close();
  }
});
