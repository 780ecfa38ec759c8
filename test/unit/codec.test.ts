import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CodecError, RecordTooLargeError } from '../../src/errors.js';
import {
  type BioRecord,
  decode,
  encodedSize,
  encodeInto,
  newRecord,
  reserveSize,
  tryPushRecord,
} from '../../src/ring/codec.js';
import { ByteRing } from '../../src/ring/ring.js';
import { bioRecords, ringBytes } from '../support/records.js';

// Sizes up to the maxima: at fast-check's default small sizes the properties below missed their deep paths.
const binaryText = fc.string({ unit: 'binary', maxLength: 40, size: 'max' });
const asciiText = fc.string({ maxLength: 40, size: 'max' });
const someWords = fc.option(fc.uint32Array({ minLength: 1, maxLength: 20, size: 'max' }), { nil: undefined });
const recordOf = (str: fc.Arbitrary<string>) => bioRecords(str, 6, someWords);

test('property: any record with any UTF-8 round-trips through a wrapping ring', () => {
  // At fast-check's default small sizes, 200 runs pushed ~6 records each, of at most ~440 bytes, wrapped 40,
  // pushed 56 where only the exact size fitted, and never reserved an exact size.
  const bigRecord = recordOf(binaryText);
  let wrapped = 0;
  let exact = 0;
  let overBound = 0;
  let tooLarge = 0;
  fc.assert(
    fc.property(fc.array(bigRecord, { minLength: 1, maxLength: 40, size: 'max' }), (records) => {
      const ring = new ByteRing(ByteRing.allocate(2048)); // records are up to ~1.7 KiB: the ring wraps often
      const got: BioRecord[] = [];
      const pushed: BioRecord[] = [];
      for (const r of records) {
        const size = encodedSize(r);
        if (size > ring.maxRecordBytes) {
          assert.throws(() => tryPushRecord(ring, r), RecordTooLargeError);
          tooLarge++;
          continue;
        }
        const bound = reserveSize(r, ring.maxRecordBytes);
        if (bound === size) exact++;
        for (;;) {
          const used = ring.usedBytes();
          if (tryPushRecord(ring, r)) {
            const grew = ring.usedBytes() - used;
            if (grew > ringBytes(size)) wrapped++;
            // Pushed with less room than its bound: only its exact size fitted.
            if (ring.capacity - used < ringBytes(bound)) overBound++;
            break;
          }
          ring.drain(1, (b, o, l) => got.push(decode(b, o, l)));
        }
        pushed.push(r);
      }
      ring.drain(1000, (b, o, l) => got.push(decode(b, o, l)));
      assert.deepEqual(got, pushed);
    }),
    { numRuns: 200 },
  );
  // The runs must wrap records, reserve exact sizes and push where only the exact size fits, and refuse
  // records over the limit, or they test the easy path only.
  assert.ok(
    wrapped >= 600 && exact >= 600 && overBound >= 250 && tooLarge >= 60,
    `${wrapped} wrapped, ${exact} reserved exactly, ${overBound} pushed under their bound, ${tooLarge} too large`,
  );
});

test('multi-byte characters keep their bytes exactly', () => {
  const r: BioRecord = {
    cmd: 3,
    id: 7,
    createdAt: 1.5,
    doneAt: 2.25,
    path: '/kimserver/nodes/逻辑/节点-logic0000000001',
    value: '{"host":"🚀"}',
    error: -101,
    errName: 'ZNONODE',
    result: 'é',
    values: ['a', '', 'ß𝄞'],
    words: undefined,
  };
  const buf = Buffer.alloc(encodedSize(r));
  assert.equal(encodeInto(r, buf, 0), buf.length);
  assert.deepEqual(decode(buf, 0, buf.length), r);
});

test('every record has one shape, words or none: the same keys in the same order as newRecord()', () => {
  const shape = Object.keys(newRecord(1));
  const roundTrip = (r: BioRecord) => {
    const buf = Buffer.alloc(encodedSize(r));
    encodeInto(r, buf, 0);
    return decode(buf, 0, buf.length);
  };
  const withWords = newRecord(2, '/a', 'v', ['x']);
  withWords.words = Uint32Array.of(1, 2, 3);
  for (const r of [roundTrip(newRecord(1, '/a')), roundTrip(withWords)])
    assert.deepEqual(Object.keys(r), shape);
  assert.deepEqual(roundTrip(withWords).words, Uint32Array.of(1, 2, 3));
});

/**
 * `buf`, cut to whole words, with short string lengths and a values count, and the word count that fills the
 * rest when the strings leave room: arbitrary bytes that pass most of decode's checks, and often all of them.
 */
function plausibleHeader(bytes: Buffer): Buffer {
  const buf = bytes.subarray(0, bytes.length & ~3);
  const count = buf[44] % 4;
  for (let o = 28; o < 44; o += 4) buf.writeUInt32LE(buf[o] % 8, o);
  for (let i = 0; i < count; i++) buf.writeUInt32LE(buf[52 + 4 * i] % 8, 52 + 4 * i);
  buf.writeUInt32LE(count, 44);
  let strings = 0;
  for (let o = 28; o < 44; o += 4) strings += buf.readUInt32LE(o);
  for (let i = 0; i < count; i++) strings += buf.readUInt32LE(52 + 4 * i);
  const wordsAt = (52 + 4 * count + strings + 3) & ~3;
  if (wordsAt <= buf.length) buf.writeUInt32LE((buf.length - wordsAt) / 4, 48);
  return buf;
}

test('fuzz: arbitrary bytes decode to a record or a CodecError, never anything else', () => {
  let decoded = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200, size: 'max' }), fc.boolean(), (bytes, plausible) => {
      let buf: Buffer = Buffer.from(bytes);
      // Half the cases get small, plausible length fields so the checks past the header are reached too.
      if (plausible && buf.length >= 64) buf = plausibleHeader(buf);
      try {
        const r = decode(buf, 0, buf.length);
        // What decodes is a record the codec carries as it is (bad UTF-8 came out as U+FFFD, which
        // re-encodes longer, so its size is no check): it round-trips unchanged.
        const again = Buffer.alloc(encodedSize(r));
        assert.deepEqual(decode(again, 0, encodeInto(r, again, 0)), r);
        decoded++;
      } catch (e) {
        assert.ok(e instanceof CodecError, `unexpected ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
  // The plausible half must reach the record path, or the round trip above asserts nothing.
  assert.ok(decoded >= 200, `only ${decoded} of 2,000 inputs decoded`);
});

// Each string ASCII or not, so that records of a mix come up, and records all ASCII (decode's cut of one run).
// Half the records all ASCII: at fast-check's default small sizes and a coin per string, 13 of 500 records
// were all ASCII (mostly empty strings) and none had a value of 13 bytes or more.
const mixedRecord = fc.oneof(recordOf(asciiText), recordOf(fc.oneof(asciiText, binaryText)));
const isAscii = (s: string) => Buffer.byteLength(s) === s.length;

test('property: ASCII and other strings, in any mix, round-trip at any offset, aligned or not', () => {
  let allAscii = 0;
  let longAsciiValue = 0;
  let mixed = 0;
  fc.assert(
    fc.property(mixedRecord, fc.integer({ min: 0, max: 7 }), (r, pad) => {
      const size = encodedSize(r);
      const buf = Buffer.alloc(size + pad + 8).subarray(pad);
      const written = encodeInto(r, buf, 0);
      assert.equal(written <= size, true);
      assert.equal(written % 4, 0, 'a record ends on a word boundary');
      assert.deepEqual(decode(buf, 0, written), r);
      const strings = [r.path, r.value, r.errName, r.result, ...r.values];
      if (strings.every(isAscii)) {
        allAscii++;
        if (r.values.some((v) => v.length >= 13)) longAsciiValue++;
      } else if (strings.some((x) => x.length > 0 && isAscii(x))) mixed++;
    }),
    { numRuns: 500 },
  );
  // Both of decode's ways must come up: the ASCII run cut by its lengths (values of 13 bytes and up
  // decoded apart), and the strings read one by one.
  assert.ok(
    allAscii >= 150 && longAsciiValue >= 100 && mixed >= 150,
    `${allAscii} all ASCII, ${longAsciiValue} with a long ASCII value, ${mixed} mixed`,
  );
});

test('a surrogate pair split across two strings is written string by string, as UTF-8 takes each alone', () => {
  const r = newRecord(1, 'a\uD83D', '\uDE80b', ['\uD83D', '\uDE80']);
  const buf = Buffer.alloc(encodedSize(r));
  const got = decode(buf, 0, encodeInto(r, buf, 0));
  assert.deepEqual([got.path, got.value, got.values], ['a\uFFFD', '\uFFFDb', ['\uFFFD', '\uFFFD']]);
});

test('a record whose size bound does not fit the free room, but whose bytes do, is still pushed', () => {
  const ring = new ByteRing(ByteRing.allocate(4096)); // records up to 2,044 bytes
  // 300 ASCII characters: 352 bytes in all, bounded at 952 (3 bytes a character).
  const big = newRecord(1, 'p'.repeat(300));
  const filler = newRecord(2, 'f'.repeat(1600)); // its bound is over the limit, so it reserves its 1,652 bytes
  assert.equal(tryPushRecord(ring, filler), true);
  assert.equal(tryPushRecord(ring, filler), true);
  assert.equal(ring.capacity - ring.usedBytes(), 784);
  assert.equal(tryPushRecord(ring, big), true);
  const got: BioRecord[] = [];
  ring.drain(10, (b, o, l) => got.push(decode(b, o, l)));
  assert.deepEqual(got, [filler, filler, big]);
});

test('a batched record pushed at its exact size, after its bound did not fit, leaves the batch unpublished', () => {
  const ring = new ByteRing(ByteRing.allocate(4096));
  const big = newRecord(1, 'p'.repeat(300)); // 352 bytes, bounded at 952
  const filler = newRecord(2, 'f'.repeat(1600));
  assert.equal(tryPushRecord(ring, filler, false), true);
  assert.equal(tryPushRecord(ring, filler, false), true);
  assert.equal(tryPushRecord(ring, big, false), true);
  // The producer's batch is whole: the consumer sees it only when the producer publishes.
  assert.equal(ring.pendingRecords(), 0);
  ring.publish();
  assert.equal(ring.pendingRecords(), 3);
});

test('a record that does not fit at all publishes the batch, so the consumer can make room', () => {
  const ring = new ByteRing(ByteRing.allocate(4096));
  const filler = newRecord(2, 'f'.repeat(1600));
  assert.equal(tryPushRecord(ring, filler, false), true);
  assert.equal(tryPushRecord(ring, filler, false), true);
  assert.equal(tryPushRecord(ring, filler, false), false);
  assert.equal(ring.pendingRecords(), 2);
});

test('a record longer than the Buffer it is read from is a CodecError, not a read past the Buffer', () => {
  const r = newRecord(1, '/p');
  r.words = Uint32Array.of(1, 2, 3, 4);
  const size = encodedSize(r);
  // A window on a larger ArrayBuffer (as Node's pooled Buffers are): the bytes past it are there to be read.
  const whole = Buffer.alloc(size + 64);
  encodeInto(r, whole, 0);
  const window = whole.subarray(0, 56);
  assert.throws(
    () => decode(window, 0, size),
    (e) => e instanceof CodecError && /overruns a 56-byte buffer/.test(String(e)),
  );
  assert.throws(() => decode(whole, -4, 60), CodecError);
});
