/**
 * The binary form of a Bio record: kimserver's task, with its result, as one flat struct that serves both
 * directions (a task carries the request fields, its ack the same task with the result fields filled in,
 * and a worker-side event uses id 0). Little-endian:
 *
 *   0  u8  cmd            4  u32 id           8  f64 createdAt     16 f64 doneAt      24 i32 error
 *   28 u32 bytes of path, value, errName, result, then u32 count of values, then u32 count of words
 *   52 u32 bytes of each of values, then path, value, errName, result and values as UTF-8, back to back,
 *      then 0-3 bytes to a multiple of 4 from the record's start, then the words
 *
 * The strings are one run of UTF-8 so that an all-ASCII record (nearly every one: paths, JSON, numbers) is
 * written with one Buffer call and read with two (the path, then the rest, cut by its lengths): each UTF-8
 * call into C++ costs more than the bytes it moves (about 0.2 µs here), and a node change carries six strings.
 * A record with other characters is written and read string by string. Words are a binary payload (a node's
 * ring points, see zk/node-change.ts) copied as raw 32-bit words in the host's byte order (both ends of a ring
 * are threads of one process), aligned so that a copy is one typed-array set(): a ring's records start on
 * 4-byte boundaries. Lengths are checked on decode, so a corrupt record is a CodecError, never a read out of
 * bounds or a hang.
 */
import { CodecError } from '../errors.js';
import type { ByteRing } from './ring.js';

export interface BioRecord {
  cmd: number;
  /** Task id, from 1; 0 for events raised in the worker. */
  id: number;
  /** Monotonic ms (see clock.ts) when the task was queued. */
  createdAt: number;
  /** Monotonic ms when its ack was written. */
  doneAt: number;
  path: string;
  value: string;
  /** 0 for success, else a ZooKeeper-style error code (negative) or a Bio error code. */
  error: number;
  errName: string;
  result: string;
  values: string[];
  /**
   * Binary payload; undefined when empty. Always present, so every record has one shape: a record that gained
   * the field later had another hidden class, and the code that reads records deoptimised on it ("wrong map").
   * A copy of its own, unless it was decoded in place (a Bio with `ackWordsView`).
   */
  words: Uint32Array | undefined;
}

const FIXED = 52;

/**
 * DataViews on the last two Buffers seen: each thread encodes into one ring and decodes from the
 * other, and a ring's buffer is always the same one. Their reads and writes compile to loads and stores;
 * Buffer's readUInt32LE and friends stayed calls, with their own checks.
 */
let bufA: Buffer | null = null;
let viewA: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
let bufB: Buffer | null = null;
let viewB: DataView<ArrayBufferLike> = viewA;
/** Which of the two was used last: a third Buffer replaces the other. */
let lastA = true;
function viewOf(buf: Buffer): DataView<ArrayBufferLike> {
  if (buf === bufA) {
    lastA = true;
    return viewA;
  }
  if (buf === bufB) {
    lastA = false;
    return viewB;
  }
  const view = new DataView(buf.buffer);
  if (lastA) {
    bufB = buf;
    viewB = view;
  } else {
    bufA = buf;
    viewA = view;
  }
  lastA = !lastA;
  return view;
}
const MAX_VALUES = 1 << 20;

export function newRecord(cmd: number, path = '', value = '', values: string[] = []): BioRecord {
  return {
    cmd,
    id: 0,
    createdAt: 0,
    doneAt: 0,
    path,
    value,
    error: 0,
    errName: '',
    result: '',
    values,
    words: undefined,
  };
}

export function encodedSize(r: BioRecord): number {
  let n =
    FIXED +
    Buffer.byteLength(r.path, 'utf8') +
    Buffer.byteLength(r.value, 'utf8') +
    Buffer.byteLength(r.errName, 'utf8') +
    Buffer.byteLength(r.result, 'utf8');
  for (let i = 0; i < r.values.length; i++) n += 4 + Buffer.byteLength(r.values[i], 'utf8');
  return align4(n) + (r.words?.byteLength ?? 0);
}

const align4 = (n: number): number => (n + 3) & ~3;

/** At least encodedSize(r), without measuring UTF-8: a UTF-16 unit takes at most 3 bytes. */
function sizeBound(r: BioRecord): number {
  const values = r.values;
  let chars = r.path.length + r.value.length + r.errName.length + r.result.length;
  for (let i = 0; i < values.length; i++) chars += values[i].length;
  return align4(FIXED + 4 * values.length + 3 * chars) + (r.words?.byteLength ?? 0);
}

/**
 * Bytes to reserve for `r` in a ring whose records hold at most `maxBytes`: the cheap bound when it fits,
 * else the exact size, which may still be over (the caller shrinks the record or throws).
 */
export function reserveSize(r: BioRecord, maxBytes: number): number {
  const bound = sizeBound(r);
  return bound <= maxBytes ? bound : encodedSize(r);
}

/**
 * Writes `r` at `off`; the caller has made sure `encodedSize(r)` bytes are there (a `reserveSize` reservation
 * does). Returns the bytes written.
 */
export function encodeInto(r: BioRecord, buf: Buffer, off: number): number {
  const values = r.values;
  const count = values.length;
  const view = viewOf(buf);
  const o = buf.byteOffset + off;
  buf[off] = r.cmd;
  view.setUint32(o + 4, r.id >>> 0, true);
  view.setFloat64(o + 8, r.createdAt, true);
  view.setFloat64(o + 16, r.doneAt, true);
  view.setInt32(o + 24, r.error | 0, true);
  view.setUint32(o + 44, count, true);
  const lengthsAt = off + FIXED;
  let at = lengthsAt + 4 * count;
  let joined = r.path + r.value + r.errName + r.result;
  for (let i = 0; i < count; i++) joined += values[i];
  const written = joined.length === 0 ? 0 : buf.write(joined, at);
  if (written === joined.length) {
    // All ASCII: a string's bytes are its length.
    view.setUint32(o + 28, r.path.length, true);
    view.setUint32(o + 32, r.value.length, true);
    view.setUint32(o + 36, r.errName.length, true);
    view.setUint32(o + 40, r.result.length, true);
    for (let i = 0; i < count; i++) view.setUint32(o + FIXED + 4 * i, values[i].length, true);
    at += written;
  } else {
    // Written again one by one (a surrogate pair split across two strings joins up in `joined`).
    at += writeStr(buf, view, r.path, at, o + 28);
    at += writeStr(buf, view, r.value, at, o + 32);
    at += writeStr(buf, view, r.errName, at, o + 36);
    at += writeStr(buf, view, r.result, at, o + 40);
    for (let i = 0; i < count; i++) at += writeStr(buf, view, values[i], at, o + FIXED + 4 * i);
  }
  const words = r.words;
  view.setUint32(o + 48, words?.length ?? 0, true);
  at = off + align4(at - off);
  if (words !== undefined && words.length > 0) {
    if (((buf.byteOffset + at) & 3) === 0) wordsView(buf, at, words.length).set(words);
    else buf.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), at);
    at += words.byteLength;
  }
  return at - off;
}

/** Writes `s` at `at` and its byte length at `lengthAt` (an offset into `view`'s buffer). */
function writeStr(
  buf: Buffer,
  view: DataView<ArrayBufferLike>,
  s: string,
  at: number,
  lengthAt: number,
): number {
  const n = s.length === 0 ? 0 : buf.write(s, at);
  view.setUint32(lengthAt, n, true);
  return n;
}

/**
 * Reads the record of `length` bytes at `off`. Throws CodecError if the bytes are not a record. With
 * `wordsInPlace`, its words are a view on `buf` (when aligned there), valid until those bytes are reused.
 */
export function decode(buf: Buffer, off: number, length: number, wordsInPlace = false): BioRecord {
  if (length < FIXED)
    throw new CodecError(`record of ${length} bytes is shorter than the ${FIXED}-byte header`);
  // The view covers the whole ArrayBuffer, not just `buf`: bound the record by `buf` here.
  if (!(off >= 0 && length <= buf.length - off))
    throw new CodecError(`record of ${length} bytes at ${off} overruns a ${buf.length}-byte buffer`);
  const end = off + length;
  const view = viewOf(buf);
  const o = buf.byteOffset + off;
  const count = view.getUint32(o + 44, true);
  if (count > MAX_VALUES || count * 4 > length - FIXED)
    throw new CodecError(`values count ${count} does not fit in a ${length}-byte record`);
  const lengthsAt = off + FIXED;
  const stringsAt = lengthsAt + 4 * count;
  const pathBytes = view.getUint32(o + 28, true);
  const valueBytes = view.getUint32(o + 32, true);
  const errNameBytes = view.getUint32(o + 36, true);
  const resultBytes = view.getUint32(o + 40, true);
  // Summed as doubles: four u32s cannot wrap, and each is checked against the room left before it is used.
  let total = pathBytes + valueBytes + errNameBytes + resultBytes;
  for (let i = 0; i < count; i++) total += view.getUint32(o + FIXED + 4 * i, true);
  if (total > end - stringsAt)
    throw new CodecError(`strings of ${total} bytes overrun a ${length}-byte record`);
  const at = off + align4(stringsAt + total - off);
  const wordCount = view.getUint32(o + 48, true);
  if (wordCount * 4 !== end - at) {
    throw new CodecError(
      `${wordCount} words do not fill the ${end - at} bytes left of a ${length}-byte record`,
    );
  }
  // The path alone: it is a key of the node table and of every map on the way, and a string cut from a longer
  // one (V8's SlicedString, 13 units and up) was 150-200 ns slower to hash and compare there.
  const path = pathBytes === 0 ? '' : buf.toString('utf8', stringsAt, stringsAt + pathBytes);
  const runAt = stringsAt + pathBytes;
  const runBytes = total - pathBytes;
  const text = runBytes === 0 ? '' : buf.toString('utf8', runAt, runAt + runBytes);
  // As many UTF-16 units as bytes: all ASCII, so the byte lengths cut the decoded text.
  const ascii = text.length === runBytes;
  let from = runAt;
  const value = piece(buf, text, ascii, runAt, from, valueBytes, false);
  from += valueBytes;
  const errName = piece(buf, text, ascii, runAt, from, errNameBytes, false);
  from += errNameBytes;
  const result = piece(buf, text, ascii, runAt, from, resultBytes, false);
  from += resultBytes;
  const values = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const bytes = view.getUint32(o + FIXED + 4 * i, true);
    values[i] = piece(buf, text, ascii, runAt, from, bytes, true);
    from += bytes;
  }
  return {
    cmd: buf[off],
    id: view.getUint32(o + 4, true),
    createdAt: view.getFloat64(o + 8, true),
    doneAt: view.getFloat64(o + 16, true),
    path,
    value,
    error: view.getInt32(o + 24, true),
    errName,
    result,
    values,
    words: wordCount === 0 ? undefined : readWords(buf, at, wordCount, wordsInPlace),
  };
}

/**
 * The string of `bytes` bytes at `from`, cut from `text` (the decoded run at `base`) when it is ASCII; a `key`
 * (a listing's child names) is cut only when short enough for V8 to copy it (see the path in decode).
 */
function piece(
  buf: Buffer,
  text: string,
  ascii: boolean,
  base: number,
  from: number,
  bytes: number,
  key: boolean,
): string {
  if (bytes === 0) return '';
  if (ascii && (!key || bytes < 13)) return text.slice(from - base, from - base + bytes);
  return buf.toString('utf8', from, from + bytes);
}

/** A copy (slice(): an ArrayBuffer of its own, not shared), or in place, a view when aligned. */
function readWords(buf: Buffer, at: number, count: number, inPlace: boolean): Uint32Array {
  if (((buf.byteOffset + at) & 3) === 0) {
    const view = wordsView(buf, at, count);
    return inPlace ? view : view.slice();
  }
  const words = new Uint32Array(count);
  new Uint8Array(words.buffer).set(buf.subarray(at, at + count * 4));
  return words;
}

/** `count` words at `at` (4-aligned in memory), as a view on `buf`'s memory. */
function wordsView(buf: Buffer, at: number, count: number): Uint32Array<ArrayBufferLike> {
  return new Uint32Array(buf.buffer, buf.byteOffset + at, count);
}

/**
 * Encodes `r` straight into the ring. False when the ring has no room now; throws RecordTooLargeError
 * when it never will. `publish` false leaves it for the producer's next ring.publish() (batched acks).
 * `size` is what reserveSize gives, for a caller that has it already.
 */
export function tryPushRecord(
  ring: ByteRing,
  r: BioRecord,
  publish = true,
  size = reserveSize(r, ring.maxRecordBytes),
): boolean {
  // The bound may not fit where the record itself does: try the exact size before publishing a failure.
  let off = ring.reserve(size, false);
  if (off === -1) {
    const exact = encodedSize(r);
    if (exact < size) off = ring.reserve(exact, false);
    if (off === -1) {
      // The consumer can only make room if it sees what is there.
      ring.publish();
      return false;
    }
  }
  ring.commit(encodeInto(r, ring.buffer, off), publish);
  return true;
}
