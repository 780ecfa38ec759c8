// The ZooKeeper server's classpath is resolved when a server starts, not when the launcher loads: on a fresh
// machine the launcher loads first, then installs Debian's package, which brings the log4j jars the JVM needs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

test('jars that appear after the launcher loaded are on the server classpath', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zkbio-java-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  process.env.ZKBIO_JAVA_DIR = dir;
  // The launcher loads while the directory is still empty: as before `apt-get install zookeeper`.
  const { serverClasspath } = await import('../../src/cli/zk_server.js');
  // What the install brings.
  for (const jar of ['zookeeper.jar', 'slf4j-log4j12.jar', 'log4j-1.2.jar'])
    writeFileSync(join(dir, jar), '');
  assert.deepEqual(serverClasspath().split(':'), [
    '/etc/zookeeper/conf',
    join(dir, 'zookeeper.jar'),
    join(dir, 'slf4j-log4j12.jar'),
    join(dir, 'log4j-1.2.jar'),
  ]);
});
