/**
 * Cuts a ZooKeeper connection's byte stream into whole frames (a 4-byte big-endian length, then that many bytes),
 * for nzk-internals' read hook. node-zookeeper-client decodes one packet per read callback and, when a read holds
 * more, copies every byte left into a new buffer before it recurses for the next packet: a 64 KB read of 300-byte
 * replies copied about 7 MB (O(n²)). Handed one whole frame at a time, the library never holds leftover bytes.
 *
 * Frames are views into the read's buffer (no copy). A frame cut by the end of a read is kept, its pieces joined
 * once, when the read that completes it arrives.
 */

/**
 * No ZooKeeper packet comes near this (the server's jute.maxbuffer defaults to 1 MB): a larger length is a
 * corrupt stream, or no ZooKeeper at all, and is refused before its bytes are held.
 */
export const MAX_FRAME_BYTES = 64 << 20;

/** The stream cannot be ZooKeeper's: its connection must go. */
export class FrameError extends RangeError {}

export class FrameSplitter {
  /** The pieces of a cut frame, oldest first, and their bytes. */
  #parts: Buffer[] = [];
  #held = 0;
  /** Bytes the cut frame needs in all: its header's length plus 4, or 4 while the header itself is cut. */
  #need = 0;

  /**
   * Calls `frame` with each whole frame completed by `bytes`, in order, and keeps the rest; stops early when
   * `frame` returns false (the connection it feeds is gone). Throws a FrameError on a length below 0 or above
   * MAX_FRAME_BYTES.
   */
  push(bytes: Buffer, frame: (f: Buffer) => boolean | undefined): void {
    let data = bytes;
    if (this.#parts.length > 0) {
      this.#parts.push(bytes);
      this.#held += bytes.length;
      if (this.#held < this.#need) return;
      data = Buffer.concat(this.#parts, this.#held);
      this.#parts = [];
      this.#held = 0;
    }
    let at = 0;
    while (data.length - at >= 4) {
      const end = at + 4 + frameLength(data, at);
      if (end > data.length) break;
      const f = data.subarray(at, end);
      at = end;
      if (frame(f) === false) return;
    }
    if (at === data.length) return;
    const rest = data.subarray(at);
    // The socket's buffer is copied (a view would keep the whole read alive for a few bytes); a join is ours.
    this.#parts = [data === bytes ? Buffer.from(rest) : rest];
    this.#held = rest.length;
    this.#need = rest.length >= 4 ? 4 + frameLength(rest, 0) : 4;
  }

  /** Forgets a cut frame: the connection it came from is gone, and a new one starts at a frame boundary. */
  reset(): void {
    this.#parts = [];
    this.#held = 0;
  }
}

function frameLength(data: Buffer, at: number): number {
  const size = data.readInt32BE(at);
  if (size < 0 || size > MAX_FRAME_BYTES)
    throw new FrameError(`not a ZooKeeper frame: length ${size} (0 to ${MAX_FRAME_BYTES})`);
  return size;
}
