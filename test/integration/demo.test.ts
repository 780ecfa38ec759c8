// `npm run demo` is the README's first command: it must run to its summary and exit 0, leaving nothing behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('the demo converges through joins, a change, a kill and a leave, and exits 0', () => {
  const demo = fileURLToPath(new URL('../../examples/demo.js', import.meta.url));
  const r = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(r.status, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /5 passed, 0 failed/);
  assert.match(r.stdout, /kill 127\.0\.0\.1:\d+: \d+ of 24 users moved, all as consistent hashing says/);
});
