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

// The bio thread's last act is `await acks.drained()`; it may be torn down before its turn's end (a
// setImmediate) runs, and records published quietly in the turn would never wake the main side.
test('drained() wakes a consumer asleep in an open turn, before the turn ends', async () => {
  const sab = ByteRing.allocate(1 << 12);
  const words = new Int32Array(new SharedArrayBuffer(12));
  const sleeper = new Worker(new URL('../fixtures/ring-sleeper.js', import.meta.url), {
    workerData: { sab, words: words.buffer },
  });
  const exited = once(sleeper, 'exit');
  /** Waits, blocking this thread (so no turn of its loop ends), until words[i] >= n. */
  const blockUntil = (i: number, n: number) => {
    const deadline = Date.now() + 3000;
    for (let v = Atomics.load(words, i); v < n && Date.now() < deadline; v = Atomics.load(words, i))
      Atomics.wait(words, i, v, 100);
    return Atomics.load(words, i);
  };
  assert.equal(blockUntil(0, 1), 1, 'the consumer sleeps on the empty ring');
  const writer = new AckWriter(new ByteRing(sab));
  void writer.write(newRecord(1, '/first')); // opens a turn: published, and the consumer woken
  assert.equal(blockUntil(1, 1), 1, 'the first record of a turn wakes the consumer');
  assert.equal(blockUntil(0, 2), 2, 'and it sleeps again');
  void writer.write(newRecord(1, '/second')); // the same turn: published without a wake
  await writer.drained(); // microtasks only: the turn's end has not run
  assert.equal(blockUntil(1, 2), 2, 'drained() woke the consumer for the second record');
  Atomics.store(words, 2, 1);
  new ByteRing(sab).wakeConsumer();
  await exited;
});
