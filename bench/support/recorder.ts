/**
 * The main side's measurements for one ack-drain scenario.
 *
 * - Latency: monoNow() at the end of applying an ack minus its doneAt, one sample per ack, kept in a
 *   Float64Array; percentiles are exact (nearest rank over all samples, sorted once at the end).
 * - Slices: the first ack applied since the last microtask checkpoint opens a slice and queues a microtask
 *   that closes it; a drain runs synchronously, so the slice is that whole run. It starts at the first
 *   processAck's entry, so it leaves out that one record's decode (about a microsecond).
 * - Loss: one byte per sequence number; a second sighting is a duplicate, an unseen one is lost.
 */
import { monoNow } from '../../src/clock.js';

export interface Percentiles {
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

/** Exact nearest-rank percentiles of `samples` (ms), in µs. Sorts `samples` in place. */
export function percentiles(samples: Float64Array): Percentiles {
  samples.sort();
  const n = samples.length;
  const at = (p: number) => (n === 0 ? 0 : round(samples[Math.max(0, Math.ceil(p * n) - 1)] * 1000));
  return { p50_us: at(0.5), p90_us: at(0.9), p99_us: at(0.99), p999_us: at(0.999), max_us: at(1) };
}

export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

export class AckRecorder {
  /** While false (after a bounded window), acks are only counted for the loss check. */
  recording = true;
  private readonly samples: Float64Array;
  private readonly seen: Uint8Array;
  private n = 0;
  private unique = 0;
  private duplicated = 0;
  private firstDoneAt = Number.POSITIVE_INFINITY;
  private lastAppliedAt = 0;
  private sliceStart = -1;
  /** Every slice's length (ms): the max alone cannot tell a slow drain from one GC pause or preemption. */
  private readonly slices: number[] = [];

  constructor(readonly expected: number) {
    this.samples = new Float64Array(expected);
    this.seen = new Uint8Array(expected);
  }

  /** Call first thing in processAck. */
  enter(): void {
    if (this.sliceStart < 0 && this.recording) {
      this.sliceStart = monoNow();
      queueMicrotask(this.closeSlice);
    }
  }

  /** Call last thing in processAck, once the ack is applied. */
  applied(seq: number, doneAt: number): void {
    const now = monoNow();
    if (!(seq >= 0 && seq < this.expected)) throw new Error(`ack with sequence number ${seq} out of range`);
    if (this.seen[seq] === 1) {
      this.duplicated++;
      return;
    }
    this.seen[seq] = 1;
    this.unique++;
    if (!this.recording) return;
    this.samples[this.n++] = now - doneAt;
    if (doneAt < this.firstDoneAt) this.firstDoneAt = doneAt;
    this.lastAppliedAt = now;
  }

  private readonly closeSlice = (): void => {
    this.slices.push(monoNow() - this.sliceStart);
    this.sliceStart = -1;
  };

  /** Acks applied (while recording) so far. */
  get acks(): number {
    return this.n;
  }

  get complete(): boolean {
    return this.unique === this.expected;
  }

  summary(elu: number) {
    const span = (this.lastAppliedAt - this.firstDoneAt) / 1000;
    const slices = percentiles(Float64Array.from(this.slices));
    return {
      ...percentiles(this.samples.subarray(0, this.n)),
      acks: this.n,
      expected: this.expected,
      drain_rate_per_s: this.n > 0 && span > 0 ? Math.round(this.n / span) : 0,
      max_slice_us: slices.max_us,
      slice_p99_us: slices.p99_us,
      slices: this.slices.length,
      elu: round(elu, 3),
      lost: this.expected - this.unique,
      duplicated: this.duplicated,
    };
  }
}
