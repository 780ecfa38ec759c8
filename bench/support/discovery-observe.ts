/**
 * The observer's side of bench/discovery: when each node's added / changed / removed event came (monoNow()
 * in the handler itself, no polling), convergence samples against the times the peers' calls started, and the
 * event-loop delay over a window.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { monoNow } from '../../src/clock.js';
import type { ZkNode } from '../../src/nodes/validate.js';
import { type Cpu, cpuWindow } from './discovery-cpu.js';
import type { FloorProbe } from './discovery-fleet.js';

export type Op = 'join' | 'change' | 'leave';
export interface Latency {
  p50_ms: number;
  p99_ms: number;
  n: number;
}
export type Convergence = Record<Op, Latency>;
export interface EldWindow {
  eld_p99_ms: number;
  eld_max_ms: number;
}

export const round = (x: number): number => Number(x.toFixed(2));

/** The listeners Observed needs on a discovery client (ZkClient and MainThreadClient both emit these). */
export interface DiscoveryListeners {
  added(node: ZkNode): void;
  changed(change: { old: ZkNode; new: ZkNode }): void;
  removed(node: ZkNode): void;
}

export class Observed {
  private readonly seen: Record<Op, Map<string, number>> = {
    join: new Map(),
    change: new Map(),
    leave: new Map(),
  };
  private readonly samples: Record<Op, number[]> = { join: [], change: [], leave: [] };
  private wake: (() => void) | null = null;

  readonly listeners: DiscoveryListeners = {
    added: (n) => this.record('join', n.path),
    changed: (c) => this.record('change', c.new.path),
    removed: (n) => this.record('leave', n.path),
  };

  private record(op: Op, path: string): void {
    const now = monoNow();
    // The first event counts: a later one for the same path is not this step converging.
    if (!this.seen[op].has(path)) this.seen[op].set(path, now);
    this.wake?.();
  }

  /** Waits until every peer in `times` has its event, then keeps one sample per peer. */
  async settle(op: Op, times: [path: string, t: number][], timeoutMs: number): Promise<void> {
    const seen = this.seen[op];
    await this.until(
      () => times.every(([path]) => seen.has(path)),
      timeoutMs,
      () => {
        const missing = times.filter(([path]) => !seen.has(path)).length;
        return `${missing} of ${times.length} ${op} events missing`;
      },
    );
    for (const [path, t] of times) this.samples[op].push((seen.get(path) as number) - t);
  }

  /** Distinct nodes that had their `op` event so far. */
  count(op: Op): number {
    return this.seen[op].size;
  }

  /** When the latest first `op` event of a node came (monoNow() ms); -Infinity before any. */
  lastAt(op: Op): number {
    let last = Number.NEGATIVE_INFINITY;
    for (const t of this.seen[op].values()) if (t > last) last = t;
    return last;
  }

  /** Waits until `count` distinct nodes had their `op` event. */
  waitCount(op: Op, count: number, timeoutMs: number): Promise<void> {
    const seen = this.seen[op];
    return this.until(
      () => seen.size >= count,
      timeoutMs,
      () => `${seen.size} of ${count} ${op} events`,
    );
  }

  convergence(): Convergence {
    const stats = (xs: number[]): Latency => {
      const s = Float64Array.from(xs).sort();
      const at = (p: number) => (s.length === 0 ? 0 : round(s[Math.max(0, Math.ceil(p * s.length) - 1)]));
      return { p50_ms: at(0.5), p99_ms: at(0.99), n: s.length };
    };
    return {
      join: stats(this.samples.join),
      change: stats(this.samples.change),
      leave: stats(this.samples.leave),
    };
  }

  private until(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = null;
        reject(new Error(`observer did not catch up within ${timeoutMs} ms: ${what()}`));
      }, timeoutMs);
      this.wake = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}

/**
 * Starts sampling this thread's event-loop delay: monitorEventLoopDelay at 1 ms resolution. The histogram holds
 * the time between its 1 ms timer's runs, so an idle loop reads about 1.1 ms. The returned function stops it
 * and gives p99 and max in ms.
 */
export function eldHistogram(): () => EldWindow {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return () => {
    h.disable();
    return { eld_p99_ms: round(h.percentile(99) / 1e6), eld_max_ms: round(h.max / 1e6) };
  };
}

/** What a measured window saw: this loop's delay, the floor process's over the same window, and the CPU. */
export interface Measured<T> {
  value: T;
  eld: EldWindow;
  floor: EldWindow;
  cpu: Cpu;
}

/**
 * Runs `run` with this loop's delay, the floor's and the CPU (`threads`: the client's own, counted apart, read
 * at both ends) sampled from just before it starts until it ends.
 */
export async function measured<T>(
  floor: FloorProbe,
  threads: () => readonly number[],
  timeoutMs: number,
  run: () => Promise<T>,
): Promise<Measured<T>> {
  await floor.start(timeoutMs);
  const cpu = cpuWindow(threads);
  const eld = eldHistogram();
  const outcome = await run().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const seen = { eld: eld(), cpu: cpu() };
  const floorSeen = await floor.stop(timeoutMs);
  if (!outcome.ok) throw outcome.error;
  return { value: outcome.value, ...seen, floor: floorSeen };
}
