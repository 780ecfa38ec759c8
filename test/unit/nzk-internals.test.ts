// The start-up check of node-zookeeper-client's private shape: with a part missing, ZkSession and ZkClient
// refuse to start with a named error instead of failing somewhere inside a connection.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { ZkbioError } from '../../src/errors.js';
import { assertLibraryShape, ZkLibraryError } from '../../src/zk/nzk-internals.js';
import { ZkSession } from '../../src/zk/session.js';

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
