/**
 * What the ack-drain benchmark's producers send, and how they pace it. Shared by the Bio handler
 * (ack-source-handler.ts) and the plain postMessage worker (post-source-worker.ts), so both bridges carry
 * the same records at the same rate.
 *
 * Records look like discovery's: a node path such as /kimserver/nodes/logic/kimserver-logic0000000042 (1,000
 * nodes, so the main side's table upserts existing keys) and a JSON value of about `payloadBytes` bytes.
 * The sequence number travels in `result` as a decimal string, for the loss and duplicate check.
 *
 * Pacing, on the clock rather than a timer: ack i is due at start + i / rate. The producer emits every ack
 * that is due, yields to its event loop once (setImmediate, so AckWriter's flush and ports keep working),
 * sleeps with Atomics.wait until just before the next one is due and spins on monoNow() for the rest.
 * A setTimeout would clump acks at its 1 ms granularity; a pure spin-wait would keep one of this machine's
 * two cores busy, and the third thread that then wants a core (GC helpers, other processes) preempts the
 * main thread for milliseconds: doorbell steady-10k p99 measured 0.4-1.7 ms with a spinning producer and
 * 0.11-0.14 ms with this one. Above about 12k acks/s the gaps are too short to sleep and it spins.
 * A burst (rate 0) emits all `count` acks in one synchronous loop.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { monoNow } from '../../src/clock.js';

export interface SourceSpec {
  /** Acks per second; 0 for a burst, all at once. */
  rate: number;
  count: number;
  payloadBytes: number;
}

/** cmd of the setup task that asks for a run (value: the SourceSpec as JSON) and of each generated event. */
export const SourceCmd = { GENERATE: 1, NODE_CHANGED: 2 } as const;

const NODES = 1000;
/** A word nobody notifies: Atomics.wait on it is a plain sleep that, unlike a timer, takes sub-ms timeouts. */
const nap = new Int32Array(new SharedArrayBuffer(4));
/** Atomics.wait oversleeps by about this much here (timer slack plus wake-up), so sleep that much less and spin the rest. */
const NAP_OVERHEAD_MS = 0.08;

export function nodePath(i: number): string {
  return `/kimserver/nodes/logic/kimserver-logic${String(i % NODES).padStart(10, '0')}`;
}

/** A node's JSON value, padded with a `tags` string to `payloadBytes` bytes. */
export function nodeValue(i: number, payloadBytes: number): string {
  const n = i % NODES;
  const base = {
    ip: `10.0.${n >> 8}.${n & 255}`,
    port: 3000 + n,
    type: 'logic',
    worker_cnt: 4,
    active_time: 1_700_000_000 + n,
    tags: '',
  };
  const pad = Math.max(0, payloadBytes - JSON.stringify(base).length);
  base.tags = 'x'.repeat(pad);
  return JSON.stringify(base);
}

/** Paths and values for every node, built once per spec so the producer's hot loop allocates no strings. */
export function nodeTable(payloadBytes: number): { paths: string[]; values: string[] } {
  const paths: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < NODES; i++) {
    paths.push(nodePath(i));
    values.push(nodeValue(i, payloadBytes));
  }
  return { paths, values };
}

/** Calls `emit(seq)` for seq 0..count-1 at `spec.rate` per second (see the file comment). */
export async function pace(spec: SourceSpec, emit: (seq: number) => void): Promise<void> {
  if (spec.rate <= 0) {
    for (let seq = 0; seq < spec.count; seq++) emit(seq);
    return;
  }
  const intervalMs = 1000 / spec.rate;
  const start = monoNow();
  let seq = 0;
  while (seq < spec.count) {
    const due = Math.min(spec.count, Math.floor((monoNow() - start) / intervalMs) + 1);
    while (seq < due) emit(seq++);
    if (seq >= spec.count) break;
    await yieldToLoop();
    const next = start + seq * intervalMs;
    const gap = next - monoNow();
    if (gap > NAP_OVERHEAD_MS) Atomics.wait(nap, 0, 0, gap - NAP_OVERHEAD_MS);
    while (monoNow() < next);
  }
}
