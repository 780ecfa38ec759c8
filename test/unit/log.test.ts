import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../src/discovery/config.js';
import { createLogger, type LoggerOptions } from '../../src/log.js';

const SECRET = 'S3cr3t-pw!';

/** A logger whose lines are collected in memory. */
function capture(opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger({ ...opts, destination }), lines };
}

test('writes one JSON object per line, with name and level', () => {
  const { log, lines } = capture({ name: 'node-1', bindings: { pid_role: 'primary' } });
  log.info({ port: 3344 }, 'registered');
  log.debug('not at info');
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.name, 'node-1');
  assert.equal(line.level, 30);
  assert.equal(line.msg, 'registered');
  assert.equal(line.port, 3344);
  assert.equal(line.pid_role, 'primary');
});

test('the level is honoured', () => {
  const { log, lines } = capture({ level: 'warn' });
  log.info('no');
  log.warn('yes');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).msg),
    ['yes'],
  );
});

test('credentials are redacted wherever a config or an auth string is logged', () => {
  const { log, lines } = capture({ bindings: { auth: `kim:${SECRET}` } });
  const config = parseConfig({
    server_name: 'kim-gate',
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: 3344,
    worker_cnt: 1,
    zookeeper: { auth: `kim:${SECRET}` },
  });
  log.info({ config }, 'config');
  log.info(config, 'config at the top');
  log.info({ auth: `kim:${SECRET}` }, 'auth');
  log.info({ zookeeper: { auth: `kim:${SECRET}` } }, 'raw section');
  log.info({ raw: { zookeeper: { auth: `kim:${SECRET}` } } }, 'raw config');
  log.warn({ password: SECRET, db: { password: SECRET } }, 'passwords');
  log.child({ zk: { auth: `kim:${SECRET}` } }).info('child bindings');
  assert.equal(lines.length, 7);
  for (const line of lines) {
    assert.ok(!line.includes(SECRET), line);
    assert.ok(line.includes('[redacted]'), line);
  }
  assert.equal(JSON.parse(lines[0]).config.zookeeper.auth, '[redacted]');
  assert.equal(JSON.parse(lines[0]).config.nodePort, 3344, 'the rest of the config is still there');
});
