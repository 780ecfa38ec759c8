// Ring points in cluster messages: each serving node's member points, worker 1 first, as one base64 string of
// the concatenated Uint32Arrays, so a replica applies the primary's points instead of running the MD5s again.
// Host byte order: the primary and its workers run on one machine.

/** The points of one node as sent; undefined when there are none to send. */
export function encodePoints(points: readonly Uint32Array[] | undefined): string | undefined {
  if (points === undefined || points.length === 0) return undefined;
  const bytes = Buffer.allocUnsafe(points.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of points) {
    bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return bytes.toString('base64');
}

/**
 * The points of a node with `workers` workers, one array each; undefined when `raw` is absent or not such a
 * string (the replica's table then computes them, and checks the shape of what it is given).
 */
export function decodePoints(raw: unknown, workers: unknown): Uint32Array[] | undefined {
  if (typeof raw !== 'string' || typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1)
    return undefined;
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length === 0 || bytes.length % (4 * workers) !== 0) return undefined;
  const all = new Uint32Array(bytes.length / 4);
  new Uint8Array(all.buffer).set(bytes);
  const each = all.length / workers;
  return Array.from({ length: workers }, (_, i) => all.subarray(i * each, (i + 1) * each));
}
