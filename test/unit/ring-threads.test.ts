import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ByteRing } from '../../src/ring/ring.js';
import { recordFor } from '../fixtures/ring-producer.js';

test('two real threads move 1M records through a small ring, every byte checked, in order', async () => {
  const count = 1_000_000;
  const sab = ByteRing.allocate(16 * 1024); // small, so the producer fills it and waits many times
  const ring = new ByteRing(sab);
  const producer = new Worker(new URL('../fixtures/ring-producer.js', import.meta.url), {
    workerData: { sab, count },
  });
  const exited = new Promise<number>((resolve) => producer.once('exit', resolve));
  let failure: unknown;
  producer.once('error', (e) => {
    failure = e;
  });
  const keepAlive = setInterval(() => {}, 1000); // waitAsync alone keeps no event loop alive
  const want = new Uint8Array(64);
  let seen = 0;
  let bad = -1;
  const deadline = Date.now() + 60_000;
  while (seen < count && failure === undefined && Date.now() < deadline) {
    ring.drain(1000, (buf, off, len) => {
      const wantLen = recordFor(seen, want);
      if (bad === -1 && (len !== wantLen || buf.compare(want, 0, wantLen, off, off + len) !== 0)) bad = seen;
      seen++;
    });
    if (ring.isEmpty()) await ring.waitForData(50);
  }
  clearInterval(keepAlive);
  assert.equal(failure, undefined);
  assert.equal(bad, -1, `record ${bad} was corrupted`);
  assert.equal(seen, count);
  assert.equal(await exited, 0);
  assert.equal(ring.isEmpty(), true);
});
