import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { AckWriter } from '../../src/bio/ack_writer.js';
import { newRecord } from '../../src/ring/codec.js';
import { ByteRing } from '../../src/ring/ring.js';

// A consumer on another thread frees room at any moment, also between a failed push and the flush that
// follows it: the race that once left `flushing` set to a settled promise and stranded every later ack.
test('every write reaches a tiny ring that another thread drains, in order, and every write resolves', async () => {
  const count = 20_000;
  const sab = ByteRing.allocate(256);
  const consumer = new Worker(new URL('../fixtures/ring-consumer.js', import.meta.url), {
    workerData: { sab, count },
  });
  const result = once(consumer, 'message');
  const writer = new AckWriter(new ByteRing(sab));
  for (let i = 1; i <= count; i++) {
    const r = newRecord(1, '/kimserver/nodes/logic/x');
    r.id = i;
    const written = writer.write(r);
    // Await only some writes, so both the fast path and the backlog path run with writes queued behind them.
    if (i % 3 === 0) await written;
  }
  await writer.drained();
  const [{ seen, inOrder }] = await result;
  assert.equal(seen, count);
  assert.equal(inOrder, count);
});

// The bio thread's last act is `await acks.drained()`; it may be torn down before its turn's setImmediate runs.
test('drained() publishes every record of the turn before it resolves, without waiting for the turn to end', async () => {
  const ring = new ByteRing(ByteRing.allocate(1 << 16));
  const writer = new AckWriter(ring);
  for (let i = 1; i <= 5; i++) void writer.write(newRecord(1, `/n/${i}`));
  assert.equal(
    ring.pendingRecords(),
    1,
    'the first record of a turn is published at once, the rest at its end',
  );
  await writer.drained();
  assert.equal(ring.pendingRecords(), 5);
});
