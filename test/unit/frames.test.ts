// FrameSplitter (src/zk/frames.ts): a ZooKeeper byte stream cut into whole length-prefixed frames, however the
// reads fall.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameError, FrameSplitter, MAX_FRAME_BYTES } from '../../src/zk/frames.js';

function frame(payload: Buffer): Buffer {
  const f = Buffer.alloc(4 + payload.length);
  f.writeInt32BE(payload.length, 0);
  payload.copy(f, 4);
  return f;
}

test('any cut of a stream into reads yields exactly its frames, in order', () => {
  // Sizes up to the maxima: at fast-check's default small sizes, 72 of 100 streams arrived in one read,
  // 19 frames in all were cut, none across three reads, and 4 inside their header.
  let cut = 0;
  let cut3 = 0;
  let headerCut = 0;
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300, size: 'max' }), { maxLength: 40, size: 'max' }),
      // Some reads of a few bytes, so that headers are cut too (about 1 in 100 long reads ends in one).
      fc.array(fc.oneof(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 1, max: 8 })), {
        minLength: 1,
        maxLength: 50,
        size: 'max',
      }),
      (payloads, readSizes) => {
        const frames = payloads.map((p) => frame(Buffer.from(p)));
        const stream = Buffer.concat(frames);
        const splitter = new FrameSplitter();
        const got: Buffer[] = [];
        const readStarts: number[] = [];
        let frameAt = 0;
        for (let at = 0, i = 0; at < stream.length; i++) {
          const n = readSizes[i % readSizes.length];
          readStarts.push(at);
          splitter.push(stream.subarray(at, at + n), (f) => {
            // The reads this frame spans, and whether the first of them ended inside its header.
            let first = readStarts.length - 1;
            while (readStarts[first] > frameAt) first--;
            if (first < i) cut++;
            if (first < i - 1) cut3++;
            if (readStarts[first + 1] < frameAt + 4) headerCut++;
            frameAt += f.length;
            got.push(Buffer.from(f));
            return true;
          });
          at += n;
        }
        assert.deepEqual(got, frames);
      },
    ),
  );
  // The runs must cut frames across reads, several reads and headers, or they test whole reads only.
  assert.ok(
    cut >= 400 && cut3 >= 250 && headerCut >= 40,
    `${cut} frames cut, ${cut3} over 3+ reads, ${headerCut} in the header`,
  );
});

test('a read of many frames hands them over as views, without copying', () => {
  const stream = Buffer.concat([frame(Buffer.from('a')), frame(Buffer.alloc(0)), frame(Buffer.from('bcd'))]);
  const seen: Buffer[] = [];
  new FrameSplitter().push(stream, (f) => {
    seen.push(f);
    return true;
  });
  assert.deepEqual(
    seen.map((f) => f.length),
    [5, 4, 7],
  );
  // Views at the frames' own places in the read (a copy of a small Buffer could share the pool's ArrayBuffer).
  assert.deepEqual(
    seen.map((f) => [f.buffer === stream.buffer, f.byteOffset - stream.byteOffset]),
    [
      [true, 0],
      [true, 5],
      [true, 9],
    ],
  );
});

test('a false return stops the read there; reset() forgets a cut frame', () => {
  const s = new FrameSplitter();
  const seen: number[] = [];
  const take = (f: Buffer) => {
    seen.push(f.length);
    return seen.length < 2;
  };
  s.push(Buffer.concat([frame(Buffer.from('1')), frame(Buffer.from('22')), frame(Buffer.from('333'))]), take);
  assert.deepEqual(seen, [5, 6], 'the third frame of a dropped connection is not handed over');
  s.push(frame(Buffer.from('abcdef')).subarray(0, 5), take); // a cut frame, then the connection is gone
  s.reset();
  const next: number[] = [];
  s.push(frame(Buffer.from('xy')), (f) => {
    next.push(f.length);
    return true;
  });
  assert.deepEqual(next, [6], 'the new connection starts at its own first frame');
});

test('a length below 0 or above MAX_FRAME_BYTES is no ZooKeeper stream: a FrameError naming it, nothing held', () => {
  for (const size of [-5, MAX_FRAME_BYTES + 1]) {
    const bad = Buffer.alloc(8);
    bad.writeInt32BE(size, 0);
    assert.throws(
      () => new FrameSplitter().push(bad, () => true),
      (err) => err instanceof FrameError && err.message.includes(`length ${size} `),
    );
  }
  // Cut inside the header, the length is only read once complete: still refused before any payload is held.
  const s = new FrameSplitter();
  const header = Buffer.alloc(4);
  header.writeInt32BE(MAX_FRAME_BYTES + 1, 0);
  s.push(header.subarray(0, 2), () => true);
  assert.throws(() => s.push(header.subarray(2), () => true), FrameError);
});

test('a frame cut across many reads is joined once, when its last piece arrives', () => {
  const big = frame(Buffer.alloc(100_000, 7));
  const s = new FrameSplitter();
  const seen: Buffer[] = [];
  for (let at = 0; at < big.length; at += 1000)
    s.push(big.subarray(at, at + 1000), (f) => {
      seen.push(f);
      return true;
    });
  assert.equal(seen.length, 1);
  assert.ok(seen[0].equals(big));
});
