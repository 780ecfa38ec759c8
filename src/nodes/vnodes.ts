// Ketama points of one ring member, laid out as kimserver's Nodes::gen_vnodes does:
// for i in 0..vnodeCount/4-1, MD5("<vnodeCount - i>@<id>#<i>") read as four little-endian uint32.
import { MD5_IN_BLOCK_MAX, md5Words } from './md5.js';
import { MD5X4_MAX_BLOCKS, md5x4, md5x4Blocks, padBlock, padCount } from './md5x4.js';

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);
/** The messages md5x4's blocks hold, but for the id: which vnodeCount, how long an id, and padCount() after. */
let laidOut = { vnodeCount: -1, idLength: -1, pads: -1 };
/** Where the id starts in each laid-out block (after "<vnodeCount - b>@"). */
const idAt = new Uint8Array(MD5X4_MAX_BLOCKS);

/** Writes the decimal digits of a non-negative integer at buf[at..]; returns the new end. */
function writeUint(buf: Uint8Array, at: number, n: number): number {
  const digits = digitCount(n);
  for (let i = at + digits - 1; i >= at; i--) {
    buf[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return at + digits;
}

/** How many points a member has: kimserver makes them in groups of four (one MD5 each). */
export function vnodePointCount(vnodeCount: number): number {
  return Math.floor(vnodeCount / 4) * 4;
}

/** The member's points in kimserver's generation order (not sorted). */
export function vnodePoints(id: string, vnodeCount: number): Uint32Array {
  const out = new Uint32Array(vnodePointCount(vnodeCount));
  vnodePointsInto(id, vnodeCount, out, 0);
  return out;
}

/** Writes the member's points (as vnodePoints gives them) into out[at..]: no array of their own. */
export function vnodePointsInto(id: string, vnodeCount: number, out: Uint32Array, at: number): void {
  const groups = Math.floor(vnodeCount / 4);
  const idBytes = encoder.encode(id);
  // The longest message, "<vnodeCount>@" + id + "#<groups - 1>", decides whether every one fits one MD5 block.
  const longest = digitCount(vnodeCount) + idBytes.length + digitCount(Math.max(0, groups - 1)) + 2;
  if (longest > MD5_IN_BLOCK_MAX) {
    // Messages too long for one block (a long host name): one digest at a time.
    if (scratch.length < idBytes.length + 24) scratch = new Uint8Array(idBytes.length + 24);
    for (let i = 0; i < groups; i++)
      md5Words(scratch, writeMessage(scratch, 0, idBytes, vnodeCount, i), out, at + i * 4);
    return;
  }
  // Every message in a block of its own, hashed four at a time (md5x4.ts).
  const blocks = md5x4Blocks();
  if (groups <= MD5X4_MAX_BLOCKS) {
    // A ring's members mostly have ids of one length ("10.0.0.7:7001.1"): then the blocks the last member left
    // differ from this one's in its id's bytes only, and only those are written.
    if (
      laidOut.vnodeCount !== vnodeCount ||
      laidOut.idLength !== idBytes.length ||
      laidOut.pads !== padCount()
    ) {
      for (let b = 0; b < groups; b++) {
        idAt[b] = digitCount(vnodeCount - b) + 1;
        padBlock(b, writeMessage(blocks, b * 64, idBytes, vnodeCount, b) - b * 64);
      }
      laidOut = { vnodeCount, idLength: idBytes.length, pads: padCount() };
    } else {
      for (let b = 0; b < groups; b++) blocks.set(idBytes, b * 64 + idAt[b]);
    }
    md5x4(groups, out, at);
    return;
  }
  for (let from = 0; from < groups; from += MD5X4_MAX_BLOCKS) {
    const count = Math.min(MD5X4_MAX_BLOCKS, groups - from);
    for (let b = 0; b < count; b++)
      padBlock(b, writeMessage(blocks, b * 64, idBytes, vnodeCount, from + b) - b * 64);
    md5x4(count, out, at + from * 4);
  }
}

/** Writes digest i's message, "<vnodeCount - i>@<id>#<i>", at buf[start..]; returns its end. */
function writeMessage(
  buf: Uint8Array,
  start: number,
  idBytes: Uint8Array,
  vnodeCount: number,
  i: number,
): number {
  let end = writeUint(buf, start, vnodeCount - i);
  buf[end++] = 0x40; // '@'
  buf.set(idBytes, end);
  end += idBytes.length;
  buf[end++] = 0x23; // '#'
  return writeUint(buf, end, i);
}

function digitCount(n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  return digits;
}

/**
 * ring member id: "host:port.workerIndex", workerIndex from 1 (0 is the manager, never a member). Built by
 * join, which makes one flat string: a template literal leaves a tree of cons strings and their parts, about
 * 120 heap bytes an id against 35, and a table keeps one id per member.
 */
export function memberId(host: string, port: number, workerIndex: number): string {
  return [host, ':', port, '.', workerIndex].join('');
}
