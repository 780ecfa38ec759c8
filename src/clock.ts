/**
 * Monotonic milliseconds with sub-microsecond resolution, comparable across threads and processes on one
 * machine: performance.now() plus this process's offset to CLOCK_MONOTONIC (process.hrtime), measured once
 * at load. performance.now() allocates nothing, unlike hrtime.bigint(), so the hot path stays clean.
 */
function calibrate(): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 64; i++) {
    const before = performance.now();
    const mono = Number(process.hrtime.bigint()) / 1e6;
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = mono - (before + after) / 2;
    }
  }
  return offset;
}

const offset = calibrate();

export function monoNow(): number {
  return performance.now() + offset;
}
