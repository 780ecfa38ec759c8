// Key hashes, bit-exact with kimserver's src/core/util/hash.h.
//
// kimserver's FNV variants use FNV's 64-bit offset basis and prime swapped into each other's place
// (h starts at 0x100000001b3 and is multiplied by 0xcbf29ce484222325), and it XORs `(uint)(char)b`,
// so on x86 a byte >= 0x80 is sign-extended before the XOR. Both facts are kept here on purpose:
// a zkbio server must route a key to the same member a kimserver server would.
//
// `fnv1_64` works on 64 bits and returns the low 32, but the low 32 bits of a product and of a XOR
// depend only on the low 32 bits of their operands, so it is computed in 32 bits with Math.imul.
//
// The *String functions hash a JavaScript string as its UTF-8 bytes without encoding it into a buffer:
// lookups run millions of times a second and must not allocate. They produce the same bytes as
// TextEncoder/Buffer.from(s, 'utf8'), including U+FFFD (EF BF BD) for a lone surrogate.

export type HashAlg = 'fnv1a_64' | 'fnv1_64' | 'murmur3_32';
export const HASH_ALGS: readonly HashAlg[] = ['fnv1a_64', 'fnv1_64', 'murmur3_32'];

const FNV_INIT = 0x000001b3; // low 32 bits of 0x100000001b3
const FNV_PRIME = 0x84222325 | 0; // low 32 bits of 0xcbf29ce484222325
const MURMUR_SEED = 0x000001b3;
const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593 | 0;

/** kimserver XORs `(uint32_t)(char)b`: sign-extend the byte. */
const sx = (b: number): number => (b << 24) >> 24;

export function fnv1a64(bytes: Uint8Array): number {
  let h = FNV_INIT;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ sx(bytes[i]), FNV_PRIME);
  return h >>> 0;
}

export function fnv164(bytes: Uint8Array): number {
  let h = FNV_INIT;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h, FNV_PRIME) ^ sx(bytes[i]);
  return h >>> 0;
}

function murmurBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The tail (k holds the 1-3 leftover bytes, unsigned, little-endian) and the finalizer. */
function murmurFinish(h: number, k: number, len: number): number {
  if ((len & 3) !== 0) {
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b | 0);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35 | 0);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32, seed 0x1b3; blocks are read little-endian as on kimserver's x86 hosts. */
export function murmur3_32(bytes: Uint8Array): number {
  const len = bytes.length;
  const tailStart = len & ~3;
  let h = MURMUR_SEED;
  for (let i = 0; i < tailStart; i += 4) {
    h = murmurBlock(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  let k = 0;
  for (let i = len - 1; i >= tailStart; i--) k = (k << 8) | bytes[i];
  return murmurFinish(h, k, len);
}

/** hashKey(alg, bytes): the uint32 kimserver's `Nodes::hash` gives for these bytes. */
export function hashKey(alg: HashAlg, bytes: Uint8Array): number {
  switch (alg) {
    case 'fnv1a_64':
      return fnv1a64(bytes);
    case 'fnv1_64':
      return fnv164(bytes);
    case 'murmur3_32':
      return murmur3_32(bytes);
  }
}

// --- strings, UTF-8 encoded on the fly ---

/**
 * The code point starting at s[i] (a surrogate pair makes one; a lone surrogate becomes U+FFFD as
 * UTF-8 encoders do). Callers advance i by 2 when the result is >= 0x10000.
 */
function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdfff) return c;
  if (c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
  }
  return 0xfffd;
}

export function fnv1a64String(s: string): number {
  let h = FNV_INIT;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    c = codePointAt(s, i);
    if (c < 0x800) {
      h = Math.imul(h ^ sx(0xc0 | (c >> 6)), FNV_PRIME);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ sx(0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ sx(0x80 | ((c >> 6) & 63)), FNV_PRIME);
    } else {
      i++;
      h = Math.imul(h ^ sx(0xf0 | (c >> 18)), FNV_PRIME);
      h = Math.imul(h ^ sx(0x80 | ((c >> 12) & 63)), FNV_PRIME);
      h = Math.imul(h ^ sx(0x80 | ((c >> 6) & 63)), FNV_PRIME);
    }
    h = Math.imul(h ^ sx(0x80 | (c & 63)), FNV_PRIME);
  }
  return h >>> 0;
}

export function fnv164String(s: string): number {
  let h = FNV_INIT;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h, FNV_PRIME) ^ c;
      continue;
    }
    c = codePointAt(s, i);
    if (c < 0x800) {
      h = Math.imul(h, FNV_PRIME) ^ sx(0xc0 | (c >> 6));
    } else if (c < 0x10000) {
      h = Math.imul(h, FNV_PRIME) ^ sx(0xe0 | (c >> 12));
      h = Math.imul(h, FNV_PRIME) ^ sx(0x80 | ((c >> 6) & 63));
    } else {
      i++;
      h = Math.imul(h, FNV_PRIME) ^ sx(0xf0 | (c >> 18));
      h = Math.imul(h, FNV_PRIME) ^ sx(0x80 | ((c >> 12) & 63));
      h = Math.imul(h, FNV_PRIME) ^ sx(0x80 | ((c >> 6) & 63));
    }
    h = Math.imul(h, FNV_PRIME) ^ sx(0x80 | (c & 63));
  }
  return h >>> 0;
}

export function murmur3_32String(s: string): number {
  let h = MURMUR_SEED;
  let k = 0; // bytes of the current block, little-endian
  let len = 0; // UTF-8 bytes consumed so far
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    let n: number; // number of UTF-8 bytes for this code point
    let bytes: number; // those bytes packed little-endian (first byte lowest)
    if (c < 0x80) {
      n = 1;
      bytes = c;
    } else {
      c = codePointAt(s, i);
      if (c < 0x800) {
        n = 2;
        bytes = 0xc0 | (c >> 6) | ((0x80 | (c & 63)) << 8);
      } else if (c < 0x10000) {
        n = 3;
        bytes = 0xe0 | (c >> 12) | ((0x80 | ((c >> 6) & 63)) << 8) | ((0x80 | (c & 63)) << 16);
      } else {
        i++;
        n = 4;
        bytes =
          0xf0 |
          (c >> 18) |
          ((0x80 | ((c >> 12) & 63)) << 8) |
          ((0x80 | ((c >> 6) & 63)) << 16) |
          ((0x80 | (c & 63)) << 24);
      }
    }
    for (let j = 0; j < n; j++) {
      k |= (bytes & 0xff) << ((len & 3) << 3);
      bytes >>>= 8;
      len++;
      if ((len & 3) === 0) {
        h = murmurBlock(h, k);
        k = 0;
      }
    }
  }
  return murmurFinish(h, k, len);
}

/** hashString(alg, s): hashKey(alg, UTF-8 bytes of s), without encoding s. */
export function hashString(alg: HashAlg, s: string): number {
  switch (alg) {
    case 'fnv1a_64':
      return fnv1a64String(s);
    case 'fnv1_64':
      return fnv164String(s);
    case 'murmur3_32':
      return murmur3_32String(s);
  }
}
