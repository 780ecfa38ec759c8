// Ketama points of one ring member, laid out as kimserver's Nodes::gen_vnodes does:
// for i in 0..vnodeCount/4-1, MD5("<vnodeCount - i>@<id>#<i>") read as four little-endian uint32.
import { md5Words } from './md5.js';

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** Writes the decimal digits of a non-negative integer at buf[at..]; returns the new end. */
function writeUint(buf: Uint8Array, at: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
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
  // "<up to 10 digits>@" + id + "#<up to 10 digits>"
  if (scratch.length < idBytes.length + 24) scratch = new Uint8Array(idBytes.length + 24);
  for (let i = 0; i < groups; i++) {
    let end = writeUint(scratch, 0, vnodeCount - i);
    scratch[end++] = 0x40; // '@'
    scratch.set(idBytes, end);
    end += idBytes.length;
    scratch[end++] = 0x23; // '#'
    end = writeUint(scratch, end, i);
    md5Words(scratch, end, out, at + i * 4);
  }
}

/** ring member id: "host:port.workerIndex", workerIndex from 1 (0 is the manager, never a member). */
export function memberId(host: string, port: number, workerIndex: number): string {
  return `${host}:${port}.${workerIndex}`;
}
