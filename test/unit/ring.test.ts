import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RecordTooLargeError } from '../../src/errors.js';
import { ByteRing } from '../../src/ring/ring.js';
import { ringBytes } from '../support/records.js';

const drainAll = (ring: ByteRing, limit = Number.MAX_SAFE_INTEGER): Buffer[] => {
  const out: Buffer[] = [];
  ring.drain(limit, (buf, off, len) => out.push(Buffer.from(buf.subarray(off, off + len))));
  return out;
};

test('capacity rounds up to a power of two and the largest record is refused with both sizes', () => {
  const ring = new ByteRing(ByteRing.allocate(100));
  assert.equal(ring.capacity, 128);
  assert.equal(ring.maxRecordBytes, 60);
  assert.throws(
    () => ring.tryPush(new Uint8Array(61)),
    (e: unknown) =>
      e instanceof RecordTooLargeError && /61 bytes/.test(e.message) && /60 bytes/.test(e.message),
  );
  assert.equal(ring.tryPush(new Uint8Array(60)), true);
});

test('empty and full are results, not waits', () => {
  const ring = new ByteRing(ByteRing.allocate(64));
  assert.equal(
    ring.drain(10, () => assert.fail('empty ring visited a record')),
    0,
  );
  let pushed = 0;
  while (ring.tryPush(Uint8Array.of(pushed))) pushed++;
  assert.equal(pushed, 64 / 8); // 4-byte header + 1 byte padded to 4
  assert.equal(ring.usedBytes(), 64);
  assert.equal(ring.pendingRecords(), pushed);
  const got = drainAll(ring);
  assert.deepEqual(
    got.map((b) => b[0]),
    [...Array(pushed).keys()],
  );
  assert.equal(ring.isEmpty(), true);
});

test('drain hands over at most `limit` records per call', () => {
  const ring = new ByteRing(ByteRing.allocate(4096));
  for (let i = 0; i < 250; i++) assert.ok(ring.tryPush(Uint8Array.of(i & 255)));
  const slices: number[] = [];
  for (;;) {
    const n = ring.drain(100, () => {});
    if (n === 0) break;
    slices.push(n);
  }
  assert.deepEqual(slices, [100, 100, 50]);
});

test('a record that does not fit before the end wraps whole to the start', () => {
  const ring = new ByteRing(ByteRing.allocate(128));
  assert.ok(ring.tryPush(new Uint8Array(52))); // 56 bytes: position 56
  drainAll(ring);
  const a = new Uint8Array(40).fill(0xaa); // 44 bytes at 56..100
  const b = Uint8Array.from({ length: 40 }, (_, i) => i + 1); // only 28 left before the end: starts at 0
  assert.ok(ring.tryPush(a));
  assert.ok(ring.tryPush(b));
  assert.equal(ring.usedBytes(), 44 + 28 + 44); // the skipped tail counts as used
  assert.deepEqual(drainAll(ring), [Buffer.from(a), Buffer.from(b)]);
  assert.equal(ring.usedBytes(), 0);
});

test('property: any interleaving of pushes and drains keeps FIFO order and loses nothing', () => {
  // Sizes up to the maxima: fast-check's default small sizes made a handful of short pushes a run, which
  // filled a ring or wrapped a record a few times in all 300 runs.
  const op = fc.oneof(
    fc.record({ push: fc.uint8Array({ minLength: 0, maxLength: 124, size: 'max' }) }),
    fc.record({ drain: fc.integer({ min: 1, max: 8 }) }),
  );
  let refused = 0;
  let wrapped = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(64, 128, 256, 1024),
      fc.array(op, { maxLength: 300, size: 'max' }),
      (cap, ops) => {
        const ring = new ByteRing(ByteRing.allocate(cap));
        const model: Buffer[] = [];
        let bytesInModel = 0;
        for (const o of ops) {
          if ('push' in o) {
            if (o.push.length > ring.maxRecordBytes) {
              assert.throws(() => ring.tryPush(o.push), RecordTooLargeError);
              continue;
            }
            const used = ring.usedBytes();
            const ok = ring.tryPush(o.push);
            // An empty ring always takes a record of up to maxRecordBytes.
            if (model.length === 0) assert.ok(ok, 'empty ring refused a record that fits');
            const size = ringBytes(o.push.length);
            if (ok) {
              model.push(Buffer.from(o.push));
              bytesInModel += size;
              if (ring.usedBytes() - used > size) wrapped++;
            } else refused++;
          } else {
            const got = drainAll(ring, o.drain);
            const want = model.splice(0, o.drain);
            assert.deepEqual(got, want);
            for (const w of want) bytesInModel -= ringBytes(w.length);
          }
          assert.equal(ring.pendingRecords(), model.length);
          assert.ok(ring.usedBytes() >= bytesInModel && ring.usedBytes() <= cap);
        }
        assert.deepEqual(drainAll(ring), model);
      },
    ),
    { numRuns: 300 },
  );
  // The runs must reach a full ring and a record that starts again at 0, or they test the easy path only.
  assert.ok(refused >= 100 && wrapped >= 100, `${refused} pushes refused, ${wrapped} wrapped`);
});

test('waitForData resolves at once when data is there, and on push when not', async () => {
  const ring = new ByteRing(ByteRing.allocate(256));
  ring.tryPush(Uint8Array.of(1));
  assert.equal(await ring.waitForData(1000), 'not-equal');
  drainAll(ring);
  const keepAlive = setTimeout(() => {}, 5000);
  const waiting = ring.waitForData(5000);
  setTimeout(() => ring.tryPush(Uint8Array.of(2)), 5);
  assert.notEqual(await waiting, 'timed-out');
  assert.deepEqual(drainAll(ring), [Buffer.of(2)]);
  assert.equal(await ring.waitForData(10), 'timed-out');
  clearTimeout(keepAlive);
});

test('publish(false) leaves a sleeping consumer asleep; the next publish() wakes it, even with nothing new', async () => {
  const ring = new ByteRing(ByteRing.allocate(256));
  const keepAlive = setTimeout(() => {}, 5000);
  let woke: string | null = null;
  const waiting = ring.waitForData(3000).then((r) => {
    woke = r;
  });
  const off = ring.reserve(1);
  ring.buffer[off] = 7;
  ring.commit(1, false);
  ring.publish(false);
  assert.equal(ring.pendingRecords(), 1, 'published: a draining consumer would see it');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(woke, null, 'publish(false) must not wake the consumer');
  ring.publish(); // nothing new to publish, but the record above was never announced
  await waiting;
  assert.equal(woke, 'ok');
  assert.deepEqual(drainAll(ring), [Buffer.of(7)]);
  clearTimeout(keepAlive);
});

test("a wake with nothing new that lands between the consumer's re-check and its wait is not lost", async () => {
  // The interleaving that parked the doorbell for good in bench/discovery: records published quietly and drained
  // (by the backstop timer), the consumer going to sleep, and the producer's announcement landing just before the
  // wait began. It cleared the sleeping word without moving `tail`, so the wait started anyway and no later
  // publish woke it.
  const sab = ByteRing.allocate(256);
  const producer = new ByteRing(sab);
  const consumer = new ByteRing(sab);
  const keepAlive = setTimeout(() => {}, 5000);
  producer.tryPush(Uint8Array.of(1));
  producer.reserve(1);
  producer.commit(1, false);
  producer.publish(false);
  assert.equal(drainAll(consumer).length, 2);
  // The consumer's re-check runs isEmpty(); the producer's announcement lands right there, once.
  consumer.isEmpty = () => {
    consumer.isEmpty = ByteRing.prototype.isEmpty;
    producer.publish(true);
    return consumer.isEmpty();
  };
  let woke: string | null = null;
  const waiting = consumer.waitForData(Number.POSITIVE_INFINITY).then((r) => {
    woke = r;
  });
  producer.tryPush(Uint8Array.of(3)); // must wake the consumer, or it sleeps on with a record waiting
  const parked = new Promise((resolve) => setTimeout(() => resolve('parked'), 500));
  assert.notEqual(await Promise.race([waiting, parked]), 'parked', 'the consumer slept through a record');
  assert.ok(woke === 'ok' || woke === 'not-equal', `woke: ${woke}`);
  assert.deepEqual(drainAll(consumer), [Buffer.of(3)]);
  consumer.wakeConsumer();
  clearTimeout(keepAlive);
});
