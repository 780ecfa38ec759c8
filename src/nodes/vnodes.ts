// Ketama points of one ring member, laid out as kimserver's Nodes::gen_vnodes does:
// for i in 0..vnodeCount/4-1, MD5("<vnodeCount - i>@<id>#<i>") read as four little-endian uint32.
import { MD5_IN_BLOCK_MAX, md5Block, md5InBlock, md5Words } from './md5.js';

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
  // "<up to 10 digits>@" + id + "#<up to 10 digits>": a message that fits one MD5 block is written into it, and
  // its id only when the count before it changes length (a call leaves the bytes before the message's end).
  const inBlock = idBytes.length + 22 <= MD5_IN_BLOCK_MAX;
  if (!inBlock && scratch.length < idBytes.length + 24) scratch = new Uint8Array(idBytes.length + 24);
  const msg = inBlock ? md5Block : scratch;
  let idAt = -1;
  for (let i = 0; i < groups; i++) {
    const lead = writeUint(msg, 0, vnodeCount - i);
    if (lead + 1 !== idAt) {
      msg[lead] = 0x40; // '@'
      msg.set(idBytes, lead + 1);
      idAt = lead + 1;
    }
    let end = idAt + idBytes.length;
    msg[end++] = 0x23; // '#'
    end = writeUint(msg, end, i);
    if (inBlock) md5InBlock(end, out, at + i * 4);
    else md5Words(msg, end, out, at + i * 4);
  }
}

/** ring member id: "host:port.workerIndex", workerIndex from 1 (0 is the manager, never a member). */
export function memberId(host: string, port: number, workerIndex: number): string {
  return `${host}:${port}.${workerIndex}`;
}
