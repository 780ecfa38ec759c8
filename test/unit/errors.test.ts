import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, QueueFullError } from '../../src/index.js';

test('errors name what is wrong', () => {
  const e = new ConfigError('zookeeper.servers', 'must be a non-empty string');
  assert.equal(e.code, 'CONFIG_INVALID');
  assert.match(e.message, /zookeeper\.servers/);
  const q = new QueueFullError(80, 12);
  assert.equal(q.name, 'QueueFullError');
  assert.match(q.message, /80-byte.*12 free/);
});
