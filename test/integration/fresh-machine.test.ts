// A fresh machine, without purging this shared machine's ZooKeeper. The jar directory (ZKBIO_JAVA_DIR) holds
// what such a machine has: slf4j's log4j binding (libslf4j-java, which `apt-get purge zookeeper` leaves behind)
// but neither ZooKeeper nor log4j. An `apt-get` first on PATH plays Debian's install, bringing zookeeper.jar
// and log4j-1.2.jar. The launcher loads before the install, as the demo's does. Its first server must start:
// with the classpath resolved when the module loaded, log4j was left out while its binding was in, and the JVM
// died of ClassNotFoundException org.apache.log4j.LogManager.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/fresh-zk.js', import.meta.url));
const PRESENT = ['slf4j-log4j12.jar'];
const INSTALLED = ['zookeeper.jar', 'log4j-1.2.jar'];

function freshMachine(t: { after(fn: () => void): void }) {
  const root = mkdtempSync(join(tmpdir(), 'zkbio-fresh-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const javaDir = join(root, 'java');
  const fakeBin = join(root, 'bin');
  mkdirSync(javaDir);
  mkdirSync(fakeBin);
  const log = join(root, 'apt.log');
  for (const jar of PRESENT) symlinkSync(`/usr/share/java/${jar}`, join(javaDir, jar));
  // `apt-get install ... zookeeper` links the real jars in, as the package would put them there.
  writeFileSync(
    join(fakeBin, 'apt-get'),
    `#!/bin/sh\necho "$*" >> ${log}\ncase " $* " in *" install "*) for j in ${INSTALLED.join(' ')}; do ln -s /usr/share/java/$j ${javaDir}/$j; done;; esac\n`,
  );
  chmodSync(join(fakeBin, 'apt-get'), 0o755);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ZKBIO_JAVA_DIR: javaDir,
    PATH: `${fakeBin}:${process.env.PATH}`,
  };
  delete env.ZK_SERVERS;
  return { javaDir, log, env };
}

test('on a fresh machine the first server starts right after installing ZooKeeper', (t) => {
  for (const jar of [...PRESENT, ...INSTALLED])
    assert.ok(existsSync(`/usr/share/java/${jar}`), `this test needs ${jar}`);
  const { javaDir, log, env } = freshMachine(t);
  const r = spawnSync(process.execPath, [FIXTURE], { env, encoding: 'utf8', timeout: 60_000 });
  if (process.getuid?.() !== 0) {
    // Not root: nothing is installed, and the message says what to run.
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /ZooKeeper is not installed .* As root, run: apt-get update && apt-get install -y zookeeper/,
    );
    return;
  }
  assert.equal(r.status, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stdout, /^127\.0\.0\.1:\d+\n$/);
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['update', 'install -y zookeeper']);
  for (const jar of INSTALLED) assert.ok(existsSync(join(javaDir, jar)), `${jar} installed`);
});
