// MD5 (RFC 1321) of one-block messages, four to a group, in WebAssembly SIMD: one i32x4 lane per message, and two
// groups side by side (GROUPS_PER_PASS).
//
// A member's ketama points are 50 independent digests of short messages (vnodes.ts): about a fifth of the bio
// thread's time in a storm of joins. The scalar compress (md5.ts) runs one digest per pass; here each of the 64
// steps works on four, for two groups at once. A member's 50 digests took 5.4-5.7 µs with one group, against
// 9.4-10.7 µs with md5.ts; 4,000 members' points (vnodePointsInto) then took 16.3-17.3 ms, and take 9.3-11.1 ms
// now (the adds of a step reordered, then two groups; same process, same machine). The module
// is assembled below on first use, from RFC 1321's step table, rather than shipped as a binary: it is one
// function, and this file is its source.
//
// Memory (one 64 KiB page): message blocks from byte 0, 64 bytes each, already padded with their length (the
// caller writes them); digests from OUT: per group of four blocks, the a, b, c, d state words as four i32x4
// vectors (lane j = block 4g + j). digest4(in, out, groups) hashes `groups` groups, a multiple of GROUPS_PER_PASS.

/**
 * The most blocks one md5x4() call hashes: a vnodeCount up to 2,048 in one call. A multiple of a pass's blocks
 * (4 * GROUPS_PER_PASS), so that the last whole pass stays within the blocks.
 */
export const MD5X4_MAX_BLOCKS = 512;
const OUT = MD5X4_MAX_BLOCKS * 64;

// Per step: message word index, rotation, constant K[i] (as in md5.ts, RFC 1321 order).
const STEPS: readonly (readonly [number, number, number])[] = (() => {
  const rot = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
  ];
  const out: [number, number, number][] = [];
  for (let i = 0; i < 64; i++) {
    const round = i >> 4;
    const word = [i, (5 * i + 1) % 16, (3 * i + 5) % 16, (7 * i) % 16][round];
    out.push([word, rot[round][i % 4], Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0]);
  }
  return out;
})();

// ---- a tiny assembler: just what digest4 needs ----
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
/** A local.get/set/tee of local l: its index is LEB128 (one byte only up to 127). */
const local = (op: number, l: number): number[] => [op, ...uleb(l)];
const get = (c: number[], l: number): number => c.push(...local(LOCAL_GET, l));
const I32_LOAD = [0x28, 2]; // align 4, then the offset
const V128_STORE = [...simd(0x0b), 4];
const I32X4_SPLAT = simd(0x11);
const I32X4_REPLACE_LANE = simd(0x1c);
const V128_NOT = simd(0x4d);
const V128_OR = simd(0x50);
const V128_XOR = simd(0x51);
const V128_BITSELECT = simd(0x52);
const I32X4_SHL = simd(0xab);
const I32X4_SHR_U = simd(0xad);
const I32X4_ADD = simd(0xae);
const i32Const = (n: number): number[] => {
  // Signed LEB128.
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [0x41, ...out, b];
    out.push(b | 0x80);
  }
};
const splatConst = (k: number): number[] => {
  const bytes = new Uint8Array(16);
  new DataView(bytes.buffer).setInt32(0, k, true);
  bytes.copyWithin(4, 0, 4).copyWithin(8, 0, 8);
  return [...simd(0x0c), ...bytes];
};

/**
 * Groups hashed side by side in one pass of the loop. A step waits for the step before it (about five dependent
 * vector operations), so one group leaves most of the core's vector units idle and a second, independent one
 * fills them: the digests of 4,000 members took 9.9-10.3 ms with one group and 6.1-6.3 ms with two. Three were
 * within the noise of two, with more blocks hashed for nothing past the count.
 */
const GROUPS_PER_PASS = 2;
// Locals: params in (0), out (1), groups (2); then per group g, 24 v128 from 3 + 24g: x0..x15, a b c d, saved a b c d.
const LOCALS_PER_GROUP = 24;
const xOf = (g: number, k: number): number => 3 + LOCALS_PER_GROUP * g + k;
const stateOf = (g: number, i: number): number => xOf(g, 16 + i);
const savedOf = (g: number, i: number): number => xOf(g, 20 + i);
const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

/** Step i of RFC 1321 on group g: it updates one of a, d, c, b in turn; (p, q, r) are the other three in RFC order. */
function step(c: number[], i: number, g: number): void {
  const [word, s, k] = STEPS[i];
  const t = stateOf(g, (4 - (i % 4)) % 4); // a, d, c, b
  const p = stateOf(g, (5 - (i % 4)) % 4);
  const q = stateOf(g, (6 - (i % 4)) % 4);
  const r = stateOf(g, (7 - (i % 4)) % 4);
  // t + x + k first: it does not wait for the step before, so only F, one add and the rotation do.
  get(c, t);
  get(c, xOf(g, word));
  c.push(...I32X4_ADD, ...splatConst(k), ...I32X4_ADD);
  switch (i >> 4) {
    case 0: // F = (p & q) | (~p & r)
      get(c, q);
      get(c, r);
      get(c, p);
      c.push(...V128_BITSELECT);
      break;
    case 1: // G = (p & r) | (q & ~r)
      get(c, p);
      get(c, q);
      get(c, r);
      c.push(...V128_BITSELECT);
      break;
    case 2: // H = p ^ q ^ r
      get(c, p);
      get(c, q);
      c.push(...V128_XOR);
      get(c, r);
      c.push(...V128_XOR);
      break;
    default: // I = q ^ (p | ~r)
      get(c, q);
      get(c, p);
      get(c, r);
      c.push(...V128_NOT, ...V128_OR, ...V128_XOR);
  }
  c.push(...I32X4_ADD, ...local(LOCAL_TEE, t));
  c.push(...i32Const(s), ...I32X4_SHL);
  get(c, t);
  c.push(...i32Const(32 - s), ...I32X4_SHR_U, ...V128_OR);
  get(c, p);
  c.push(...I32X4_ADD, ...local(LOCAL_SET, t));
}

function digest4Body(): number[] {
  const c: number[] = [];
  const groups = Array.from({ length: GROUPS_PER_PASS }, (_, g) => g);
  c.push(0x02, 0x40, 0x03, 0x40); // block, loop
  get(c, 2);
  c.push(0x45, 0x0d, 1); // i32.eqz, br_if to the block's end
  // The sixteen message words of each group's four blocks, one vector each.
  for (const g of groups)
    for (let k = 0; k < 16; k++) {
      for (let lane = 0; lane < 4; lane++) {
        get(c, 0);
        c.push(...I32_LOAD, ...uleb(64 * (4 * g + lane) + 4 * k));
        c.push(...(lane === 0 ? I32X4_SPLAT : [...I32X4_REPLACE_LANE, lane]));
      }
      c.push(...local(LOCAL_SET, xOf(g, k)));
    }
  for (const g of groups)
    for (let i = 0; i < 4; i++)
      c.push(...splatConst(INIT[i]), ...local(LOCAL_TEE, stateOf(g, i)), ...local(LOCAL_SET, savedOf(g, i)));
  for (let i = 0; i < 64; i++) for (const g of groups) step(c, i, g);
  for (const g of groups)
    for (let i = 0; i < 4; i++) {
      get(c, 1);
      get(c, stateOf(g, i));
      get(c, savedOf(g, i));
      c.push(...I32X4_ADD, ...V128_STORE, ...uleb(64 * g + 16 * i));
    }
  for (const [param, advance] of [
    [0, 256 * GROUPS_PER_PASS],
    [1, 64 * GROUPS_PER_PASS],
    [2, -GROUPS_PER_PASS],
  ]) {
    get(c, param);
    c.push(...i32Const(advance), 0x6a, ...local(LOCAL_SET, param)); // i32.add
  }
  c.push(0x0c, 0, 0x0b, 0x0b, 0x0b); // br to the loop, end loop, end block, end function
  return c;
}

const MAGIC_AND_VERSION = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]; // "\0asm", version 1

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function assemble(): Uint8Array {
  // Local declarations: one run of v128 (each group's x0..x15, a..d, saved a..d); the three i32 are the parameters.
  const body = [0x01, ...uleb(LOCALS_PER_GROUP * GROUPS_PER_PASS), 0x7b, ...digest4Body()];
  const name = (s: string) => [s.length, ...Buffer.from(s)];
  return Uint8Array.from([
    ...MAGIC_AND_VERSION,
    ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]), // type: (i32, i32, i32) -> ()
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]), // one memory of one page
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('digest4'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

// The few WebAssembly types used here: TypeScript's lib has them only with the DOM's.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};
interface Md5x4 {
  digest4: (blocksAt: number, digestsAt: number, groups: number) => void;
  blocks: Uint8Array;
  blockWords: Uint32Array;
  digestWords: Uint32Array;
  /** Per block, where its last padding byte ended: the bytes from there to the length field are zero. */
  paddedTo: Uint8Array;
}

let loaded: Md5x4 | undefined;

/**
 * The module, assembled and compiled on first use (6-8 ms here): a process whose points all come computed (a
 * cluster worker, a main thread fed by the bio thread) never pays for it.
 */
function md5x4Module(): Md5x4 {
  if (loaded !== undefined) return loaded;
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(assemble())) as {
    exports: { memory: { buffer: ArrayBuffer }; digest4: Md5x4['digest4'] };
  };
  const buffer = exports.memory.buffer;
  loaded = {
    digest4: exports.digest4,
    blocks: new Uint8Array(buffer, 0, OUT),
    blockWords: new Uint32Array(buffer, 0, OUT / 4),
    digestWords: new Uint32Array(buffer, OUT, (MD5X4_MAX_BLOCKS / 4) * 16),
    paddedTo: new Uint8Array(MD5X4_MAX_BLOCKS),
  };
  return loaded;
}

let padded = 0;

/**
 * Counts padBlock calls: a caller that laid blocks out, and finds the count unchanged since, knows they hold its
 * messages still (md5x4 only reads them).
 */
export function padCount(): number {
  return padded;
}

/** The message blocks: a caller writes block b at md5x4Blocks()[64b..64b+64), then calls padBlock(b, len). */
export function md5x4Blocks(): Uint8Array {
  return md5x4Module().blocks;
}

/**
 * Writes the padding and the bit length of the `len`-byte message (len <= 55) the caller has just written at the
 * start of block b, and nothing else there. Only the bytes a longer message left before are zeroed: a fill per
 * block cost as much as a fifth of a member's points.
 */
export function padBlock(b: number, len: number): void {
  const { blocks, blockWords, paddedTo } = md5x4Module();
  padded++;
  const at = b * 64;
  blocks[at + len] = 0x80;
  if (paddedTo[b] > len + 1) blocks.fill(0, at + len + 1, at + paddedTo[b]);
  paddedTo[b] = len + 1;
  blockWords[(at >> 2) + 14] = len * 8; // the high word of the length stays 0
}

/**
 * Writes the digest of each of blocks 0..count-1 (count <= MD5X4_MAX_BLOCKS), four little-endian words, to
 * out[at + 4b .. at + 4b + 4), as md5Words does. The blocks up to the next whole pass are hashed too, unread.
 */
export function md5x4(count: number, out: Uint32Array, at: number): void {
  const { digest4, digestWords } = md5x4Module();
  // Whole passes: the groups past `count` hash whatever the blocks hold, and their digests are not read.
  const passes = Math.ceil(count / (4 * GROUPS_PER_PASS));
  digest4(0, OUT, passes * GROUPS_PER_PASS);
  for (let b = 0; b < count; b++) {
    const v = (b >> 2) * 16 + (b & 3);
    const o = at + 4 * b;
    out[o] = digestWords[v];
    out[o + 1] = digestWords[v + 4];
    out[o + 2] = digestWords[v + 8];
    out[o + 3] = digestWords[v + 12];
  }
}
