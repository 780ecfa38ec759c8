/**
 * The binary form of a Bio record: kimserver's task, with its result, as one flat struct that serves both
 * directions (a task carries the request fields, its ack the same task with the result fields filled in,
 * and a worker-side event uses id 0). Little-endian:
 *
 *   0  u8  cmd            4  u32 id           8  f64 createdAt     16 f64 doneAt      24 i32 error
 *   28 u32 bytes of path, value, errName, result, then u32 count of values, then u32 count of words
 *   52 path, value, errName, result as UTF-8, then each of values as u32 length + UTF-8, then the words
 *
 * Strings are written and read in place in the ring with Buffer's UTF-8 routines: no JSON and no
 * intermediate copies. Words are a binary payload (a node's ring points, see zk/node-change.ts) copied as
 * raw bytes in the host's byte order: both ends of a ring are threads of one process. Lengths are checked
 * on decode, so a corrupt record is a CodecError, never a read out of bounds or a hang.
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
   */
  words: Uint32Array | undefined;
}

const FIXED = 52;
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
  return n + (r.words?.byteLength ?? 0);
}

/** Writes `r` at `off`; the caller has made sure `encodedSize(r)` bytes are there. Returns the bytes written. */
export function encodeInto(r: BioRecord, buf: Buffer, off: number): number {
  buf[off] = r.cmd;
  buf.writeUInt32LE(r.id >>> 0, off + 4);
  buf.writeDoubleLE(r.createdAt, off + 8);
  buf.writeDoubleLE(r.doneAt, off + 16);
  buf.writeInt32LE(r.error | 0, off + 24);
  let at = off + FIXED;
  at += writeStr(buf, r.path, at, off + 28);
  at += writeStr(buf, r.value, at, off + 32);
  at += writeStr(buf, r.errName, at, off + 36);
  at += writeStr(buf, r.result, at, off + 40);
  const values = r.values;
  buf.writeUInt32LE(values.length, off + 44);
  for (let i = 0; i < values.length; i++) {
    const n = buf.write(values[i], at + 4, 'utf8');
    buf.writeUInt32LE(n, at);
    at += 4 + n;
  }
  const words = r.words;
  buf.writeUInt32LE(words?.length ?? 0, off + 48);
  if (words !== undefined && words.length > 0) {
    buf.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), at);
    at += words.byteLength;
  }
  return at - off;
}

function writeStr(buf: Buffer, s: string, at: number, lengthAt: number): number {
  const n = s.length === 0 ? 0 : buf.write(s, at, 'utf8');
  buf.writeUInt32LE(n, lengthAt);
  return n;
}

/** Reads the record of `length` bytes at `off`. Throws CodecError if the bytes are not a record. */
export function decode(buf: Buffer, off: number, length: number): BioRecord {
  if (length < FIXED)
    throw new CodecError(`record of ${length} bytes is shorter than the ${FIXED}-byte header`);
  const end = off + length;
  let at = off + FIXED;
  const lengths = [
    buf.readUInt32LE(off + 28),
    buf.readUInt32LE(off + 32),
    buf.readUInt32LE(off + 36),
    buf.readUInt32LE(off + 40),
  ];
  const strs: string[] = [];
  for (const n of lengths) {
    if (n > end - at) throw new CodecError(`string of ${n} bytes overruns a ${length}-byte record`);
    strs.push(n === 0 ? '' : buf.toString('utf8', at, at + n));
    at += n;
  }
  const count = buf.readUInt32LE(off + 44);
  if (count > MAX_VALUES || count * 4 > end - at) {
    throw new CodecError(`values count ${count} does not fit in a ${length}-byte record`);
  }
  const values = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    if (end - at < 4) throw new CodecError(`values[${i}] overruns a ${length}-byte record`);
    const n = buf.readUInt32LE(at);
    at += 4;
    if (n > end - at) throw new CodecError(`values[${i}] of ${n} bytes overruns a ${length}-byte record`);
    values[i] = buf.toString('utf8', at, at + n);
    at += n;
  }
  const wordCount = buf.readUInt32LE(off + 48);
  if (wordCount * 4 !== end - at) {
    throw new CodecError(
      `${wordCount} words do not fill the ${end - at} bytes left of a ${length}-byte record`,
    );
  }
  return {
    cmd: buf[off],
    id: buf.readUInt32LE(off + 4),
    createdAt: buf.readDoubleLE(off + 8),
    doneAt: buf.readDoubleLE(off + 16),
    path: strs[0],
    value: strs[1],
    error: buf.readInt32LE(off + 24),
    errName: strs[2],
    result: strs[3],
    values,
    words: wordCount > 0 ? copyWords(buf, at, wordCount) : undefined,
  };
}

/** A copy, not a view: the ring reuses these bytes, and a fresh buffer is aligned for Uint32Array. */
function copyWords(buf: Buffer, at: number, count: number): Uint32Array {
  const words = new Uint32Array(count);
  new Uint8Array(words.buffer).set(buf.subarray(at, at + count * 4));
  return words;
}

/**
 * Encodes `r` straight into the ring. False when the ring has no room now; throws RecordTooLargeError
 * when it never will. `publish` false leaves it for the producer's next ring.publish() (batched acks).
 */
export function tryPushRecord(ring: ByteRing, r: BioRecord, size = encodedSize(r), publish = true): boolean {
  const off = ring.reserve(size);
  if (off === -1) return false;
  encodeInto(r, ring.buffer, off);
  ring.commit(size, publish);
  return true;
}
