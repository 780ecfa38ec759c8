// Key hashes and ketama points against kimserver's own vectors, and the allocation-free string
// hashing against hashing the UTF-8 bytes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { HASH_ALGS, hashKey, hashString } from '../../src/index.js';
import { MD5_IN_BLOCK_MAX, md5Words } from '../../src/nodes/md5.js';
import { MD5X4_MAX_BLOCKS, md5x4, md5x4Blocks, padBlock } from '../../src/nodes/md5x4.js';
import { vnodePoints } from '../../src/nodes/vnodes.js';
import { sample } from './nodes-sample.js';

test('every sample hash vector matches, for all three algorithms, as bytes and as strings', () => {
  assert.ok(sample.hash.length >= 30);
  for (const v of sample.hash) {
    const bytes = Buffer.from(v.key_hex, 'hex');
    for (const alg of HASH_ALGS) {
      assert.equal(hashKey(alg, bytes), v[alg], `${alg}(${v.key_hex})`);
      assert.equal(hashString(alg, bytes.toString('utf8')), v[alg], `${alg}("${bytes.toString('utf8')}")`);
    }
  }
});

test('fnv bytes >= 0x80 are sign-extended as kimserver does', () => {
  // One byte 0xff: h = (0x1b3 ^ 0xffffffff) * 0x84222325, not (0x1b3 ^ 0xff) * 0x84222325.
  const expected = Number((BigInt(0x1b3 ^ 0xffffffff) * 0x84222325n) & 0xffffffffn);
  assert.equal(hashKey('fnv1a_64', Uint8Array.of(0xff)), expected);
  const unsignedVariant = Number((BigInt(0x1b3 ^ 0xff) * 0x84222325n) & 0xffffffffn);
  assert.notEqual(hashKey('fnv1a_64', Uint8Array.of(0xff)), unsignedVariant);
});

test('fnv1_64 equals the 64-bit definition truncated to 32 bits', () => {
  const ref = (bytes: Uint8Array): number => {
    let h = 0x100000001b3n;
    for (const b of bytes) {
      h = (h * 0xcbf29ce484222325n) & 0xffffffffffffffffn;
      h ^= BigInt.asUintN(64, BigInt((b << 24) >> 24));
    }
    return Number(h & 0xffffffffn);
  };
  // Sizes up to the maxima: at fast-check's default small sizes, 100 runs hashed keys of ~4 bytes (10 at
  // most), ~220 bytes >= 0x80 in all.
  let signed = 0;
  let long = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40, size: 'max' }), (bytes) => {
      signed += bytes.filter((b) => b >= 0x80).length;
      if (bytes.length >= 20) long++;
      return hashKey('fnv1_64', bytes) === ref(bytes);
    }),
  );
  // The runs must sign-extend many bytes, in keys of 20 bytes and more.
  assert.ok(signed >= 400 && long >= 15, `${signed} bytes >= 0x80, ${long} keys of 20+ bytes`);
});

test('string keys hash exactly like their UTF-8 bytes (lone surrogates included)', () => {
  // Sizes up to the maxima, and strings of surrogates beside others: at fast-check's default small sizes,
  // 500 strings of ~13 bytes held ~7 lone high surrogates and ~10 lone low ones in all (and ~1,000 pairs).
  const utf16Of = (unit: fc.Arbitrary<number>) =>
    fc.array(unit, { maxLength: 24, size: 'max' }).map((units) => String.fromCharCode(...units));
  const anyUtf16 = utf16Of(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff })));
  const surrogates = utf16Of(
    fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0xd800, max: 0xdfff })),
  );
  const fullUnicode = fc.string({ unit: 'binary', maxLength: 24, size: 'max' });
  let loneHigh = 0;
  let loneLow = 0;
  let pairs = 0;
  fc.assert(
    fc.property(fc.oneof(anyUtf16, surrogates, fullUnicode), (s) => {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        const next = s.charCodeAt(i + 1); // NaN past the end
        if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          pairs++;
          i++;
        } else if (c >= 0xd800 && c <= 0xdbff) loneHigh++;
        else if (c >= 0xdc00 && c <= 0xdfff) loneLow++;
      }
      const bytes = Buffer.from(s, 'utf8');
      for (const alg of HASH_ALGS)
        assert.equal(hashString(alg, s), hashKey(alg, bytes), `${alg} ${JSON.stringify(s)}`);
    }),
    { numRuns: 500 },
  );
  // The runs must meet lone surrogates of both halves (U+FFFD) and pairs, many times over.
  assert.ok(
    loneHigh >= 150 && loneLow >= 150 && pairs >= 800,
    `${loneHigh} lone high surrogates, ${loneLow} lone low ones, ${pairs} pairs`,
  );
});

test('the vnode vector: first 8 points of 127.0.0.1:3355.1', () => {
  const points = vnodePoints('127.0.0.1:3355.1', 200);
  assert.equal(points.length, 200);
  assert.deepEqual([...points.subarray(0, 8)], sample['vnodes_127.0.0.1:3355.1_first8']);
});

test('the JS MD5 equals node:crypto for any length (one and several blocks)', () => {
  // Sizes up to the maxima, and lengths at the block edges: at fast-check's default small sizes, 400
  // inputs were of ~5 bytes (10 at most) and none took a second block.
  const edges = fc
    .constantFrom(55, 56, 63, 64, 119, 120, 127, 128)
    .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
  let twoBlocks = 0;
  let paddingBlock = 0;
  let threeBlocks = 0;
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300, size: 'max' }), edges), (bytes) => {
      // The padding and length need 9 bytes after the message: from 56 bytes on, a second block.
      if (bytes.length >= 56) twoBlocks++;
      if (bytes.length % 64 >= 56) paddingBlock++;
      if (bytes.length >= 120) threeBlocks++;
      const out = new Uint32Array(4);
      md5Words(bytes, bytes.length, out, 0);
      const d = createHash('md5').update(bytes).digest();
      assert.deepEqual(
        [...out],
        [0, 4, 8, 12].map((o) => d.readUInt32LE(o)),
      );
    }),
    { numRuns: 400 },
  );
  // The runs must take two blocks and more, and a block of padding alone.
  assert.ok(
    twoBlocks >= 200 && paddingBlock >= 50 && threeBlocks >= 100,
    `${twoBlocks} inputs of 2+ blocks, ${threeBlocks} of 3+, ${paddingBlock} with a block of padding alone`,
  );
});

test('every vnode point is its MD5 word, for ids short enough to hash in place and longer, and counts whose digits shrink', () => {
  // Sizes up to the maxima beside short ids: at fast-check's default small sizes, 147-150 of 150 ids hashed
  // every message in one block and 0-3 took the longer way.
  let inBlock = 0;
  let longer = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 16, unit: 'grapheme', size: 'max' }),
        fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme', size: 'max' }),
      ),
      fc.constantFrom(4, 40, 200, 1000, 1004),
      (id, vnodeCount) => {
        // Its longest message, "<count>@<id>#<last i>", fits in one MD5 block or not.
        const longest = Buffer.byteLength(`${vnodeCount}@${id}#${vnodeCount / 4 - 1}`);
        if (longest <= MD5_IN_BLOCK_MAX) inBlock++;
        else longer++;
        const points = vnodePoints(id, vnodeCount);
        for (let i = 0; i < vnodeCount / 4; i++) {
          const d = createHash('md5')
            .update(`${vnodeCount - i}@${id}#${i}`)
            .digest();
          for (let j = 0; j < 4; j++)
            assert.equal(points[i * 4 + j], d.readUInt32LE(j * 4), `${id} ${i}.${j}`);
        }
      },
    ),
    { numRuns: 150 },
  );
  // The runs must take both ways many times: ids hashed in place in one block, and longer ones.
  assert.ok(inBlock >= 30 && longer >= 30, `${inBlock} ids in one block, ${longer} longer`);
});

test('vnode points are MD5("<count - i>@<id>#<i>") words, for other vnode counts too', () => {
  const id = 'example.internal:8080.12';
  const points = vnodePoints(id, 160);
  for (const i of [0, 1, 39]) {
    const d = createHash('md5')
      .update(`${160 - i}@${id}#${i}`)
      .digest();
    for (let j = 0; j < 4; j++) assert.equal(points[i * 4 + j], d.readUInt32LE(j * 4));
  }
});

test('vnode points of ids of one length in a row, only their ids rewritten, stay their MD5 words', () => {
  const ids = [
    '10.0.0.17:7001.1',
    '10.0.0.17:7001.2',
    '10.0.0.99:7123.4',
    'h\u00e9st.example:71.1', // the same byte length, fewer characters
    '10.0.0.7:7001.1', // shorter: laid out again
    '10.0.0.8:7001.1',
    '10.0.0.18:7001.1',
  ];
  const check = (id: string, vnodeCount: number) => {
    const points = vnodePoints(id, vnodeCount);
    for (let i = 0; i < vnodeCount / 4; i++) {
      const d = createHash('md5')
        .update(`${vnodeCount - i}@${id}#${i}`)
        .digest();
      for (let j = 0; j < 4; j++)
        assert.equal(points[i * 4 + j], d.readUInt32LE(j * 4), `${id} ${vnodeCount} ${i}.${j}`);
    }
  };
  for (const vnodeCount of [200, 200, 1000, 160]) for (const id of ids) check(id, vnodeCount);
  // Another user of md5x4's blocks in between: the next member must lay its blocks out again.
  for (let b = 0; b < 8; b++) {
    md5x4Blocks().fill(0x61 + b, b * 64, b * 64 + 40);
    padBlock(b, 40);
  }
  check(ids[1], 160);
  check(ids[2], 160);
});

test('md5x4 equals node:crypto for every lane, any count, and blocks reused by shorter messages', () => {
  const out = new Uint32Array(4 * 64);
  let seed = 7;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const count = 1 + random(64);
    const messages: Buffer[] = [];
    for (let b = 0; b < count; b++) {
      // Long messages first in some rounds, so a later round's shorter one must clear what they left.
      const len = round % 2 === 0 ? 55 - random(8) : random(MD5_IN_BLOCK_MAX + 1);
      const msg = Buffer.alloc(len);
      for (let i = 0; i < len; i++) msg[i] = random(256);
      md5x4Blocks().set(msg, b * 64);
      padBlock(b, len);
      messages.push(msg);
    }
    md5x4(count, out, 0);
    for (let b = 0; b < count; b++) {
      const d = createHash('md5').update(messages[b]).digest();
      for (let w = 0; w < 4; w++)
        assert.equal(out[4 * b + w], d.readUInt32LE(4 * w), `round ${round} block ${b}`);
    }
  }
});

test('md5x4 at its most blocks, and a count that ends mid-pass, writes exactly count digests', () => {
  // A call hashes whole passes of two groups of four: the blocks past the count are hashed, never read back.
  for (const count of [MD5X4_MAX_BLOCKS, MD5X4_MAX_BLOCKS - 3, 9]) {
    const messages: Buffer[] = [];
    for (let b = 0; b < count; b++) {
      const msg = Buffer.from(`${count - b}@10.0.0.${b % 256}:7001.${1 + (b % 4)}#${b}`);
      md5x4Blocks().set(msg, b * 64);
      padBlock(b, msg.length);
      messages.push(msg);
    }
    const out = new Uint32Array(4 * count + 8).fill(0xdeadbeef);
    md5x4(count, out, 4);
    for (let b = 0; b < count; b++) {
      const d = createHash('md5').update(messages[b]).digest();
      for (let w = 0; w < 4; w++)
        assert.equal(out[4 + 4 * b + w], d.readUInt32LE(4 * w), `${count}: block ${b}`);
    }
    for (const i of [0, 1, 2, 3, 4 * count + 4, 4 * count + 5, 4 * count + 6, 4 * count + 7])
      assert.equal(out[i], 0xdeadbeef, `${count}: word ${i} is outside the digests`);
  }
});
