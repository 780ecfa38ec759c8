// The ZooKeeper server's classpath is resolved when a server starts, not when the launcher loads: on a fresh
// machine the launcher loads first, then installs Debian's package, which brings log4j-1.2.jar; slf4j's log4j
// binding may be there already, and the binding without log4j kills the JVM.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test('jars that appear after the launcher loaded are on the server classpath; the log4j pair goes together', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zkbio-java-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  process.env.ZKBIO_JAVA_DIR = dir;
  // Before the install: only the binding (libslf4j-java outlives `apt-get purge zookeeper`).
  writeFileSync(join(dir, 'slf4j-log4j12.jar'), '');
  const { serverClasspath } = await import('../../src/cli/zk_server.js');
  assert.deepEqual(serverClasspath().split(':'), ['/etc/zookeeper/conf', join(dir, 'zookeeper.jar')]);
  // What the install brings.
  for (const jar of ['zookeeper.jar', 'log4j-1.2.jar']) writeFileSync(join(dir, jar), '');
  assert.deepEqual(serverClasspath().split(':'), [
    '/etc/zookeeper/conf',
    join(dir, 'zookeeper.jar'),
    join(dir, 'slf4j-log4j12.jar'),
    join(dir, 'log4j-1.2.jar'),
  ]);
});
