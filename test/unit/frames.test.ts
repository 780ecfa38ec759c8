// FrameSplitter (src/zk/frames.ts): a ZooKeeper byte stream cut into whole length-prefixed frames, however the
// reads fall.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameSplitter } from '../../src/zk/frames.js';

function frame(payload: Buffer): Buffer {
  const f = Buffer.alloc(4 + payload.length);
  f.writeInt32BE(payload.length, 0);
  payload.copy(f, 4);
  return f;
}

test('any cut of a stream into reads yields exactly its frames, in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 50 }),
      (payloads, readSizes) => {
        const frames = payloads.map((p) => frame(Buffer.from(p)));
        const stream = Buffer.concat(frames);
        const splitter = new FrameSplitter();
        const got: Buffer[] = [];
        for (let at = 0, i = 0; at < stream.length; i++) {
          const n = readSizes[i % readSizes.length];
          splitter.push(stream.subarray(at, at + n), (f) => {
            got.push(Buffer.from(f));
            return true;
          });
          at += n;
        }
        assert.deepEqual(got, frames);
      },
    ),
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
  assert.ok(seen.every((f) => f.buffer === stream.buffer));
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

test('a negative length is a corrupt stream: a RangeError naming it', () => {
  const bad = Buffer.alloc(8);
  bad.writeInt32BE(-5, 0);
  assert.throws(
    () => new FrameSplitter().push(bad, () => true),
    (err) => err instanceof RangeError && /negative length \(-5\)/.test(err.message),
  );
});
