/**
 * Cuts a ZooKeeper connection's byte stream into whole frames (a 4-byte big-endian length, then that many bytes),
 * for nzk-internals' read hook. node-zookeeper-client decodes one packet per read callback and, when a read holds
 * more, copies every byte left into a new buffer before it recurses for the next packet: a 64 KB read of 300-byte
 * replies copied about 7 MB (O(n²)). Handed one whole frame at a time, the library never holds leftover bytes.
 *
 * Frames are views into the read's buffer (no copy) unless a frame was cut by the end of a read: then its bytes
 * are kept, copied, until the next read completes it.
 */
export class FrameSplitter {
  #partial: Buffer | null = null;

  /**
   * Calls `frame` with each whole frame completed by `bytes`, in order, and keeps the rest; stops early when
   * `frame` returns false (the connection it feeds is gone). Throws a RangeError on a negative length, which only
   * a corrupt stream can have.
   */
  push(bytes: Buffer, frame: (f: Buffer) => boolean | undefined): void {
    const data = this.#partial === null ? bytes : Buffer.concat([this.#partial, bytes]);
    this.#partial = null;
    let at = 0;
    while (data.length - at >= 4) {
      const size = data.readInt32BE(at);
      if (size < 0) throw new RangeError(`ZooKeeper frame with a negative length (${size})`);
      const end = at + 4 + size;
      if (end > data.length) break;
      const f = data.subarray(at, end);
      at = end;
      if (frame(f) === false) return;
    }
    // A copy: a view would keep the whole read's buffer alive for a few bytes.
    if (at < data.length) this.#partial = Buffer.from(data.subarray(at));
  }

  /** Forgets a cut frame: the connection it came from is gone, and a new one starts at a frame boundary. */
  reset(): void {
    this.#partial = null;
  }
}
