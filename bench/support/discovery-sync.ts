/**
 * bench/discovery's large scenarios, on one set of thousands of peers registered once (split over a few peer
 * processes) and every client in turn:
 *   sync5k  a node starting while the peers are registered: from just before its start() (its constructor runs
 *           before, untimed) until it has emitted 'added' for every one of them; this loop's delay, the
 *           floor's and the CPU over that time; three rounds of every client in turn, each client's median run
 *   mass    half the peers closing their sessions at once, then a quarter (new sessions, connected first)
 *           creating their nodes at once: from just before the first peer's call until the observer's last
 *           event of the step
 * Between clients' mass steps, refill() connects and joins new peers, untimed, so each client starts on the same count.
 */
import { monoNow } from '../../src/clock.js';
import type { FloorProbe, PeerFleet, Times } from './discovery-fleet.js';
import { type Measured, measured, Observed, type Op, round } from './discovery-observe.js';
import { createObserver, type Observer, type ObserverOptions, type Variant } from './discovery-observers.js';

export interface Sync {
  sync_ms: number;
  eld_p99_ms: number;
  eld_max_ms: number;
  peers: number;
  floor_eld_p99_ms: number;
  cpu_ms: number;
  cpu_main_ms?: number;
  cpu_bio_ms?: number;
  /** Every run's sync_ms, in run order; the other fields are the median run's. */
  runs_ms?: number[];
}
export interface Mass {
  /** Half the peers leaving at once: until the last 'removed'. */
  leave_ms: number;
  left: number;
  /** A quarter joining at once: until the last 'added'. */
  rejoin_ms: number;
  rejoined: number;
  /** This loop's delay over both steps. */
  eld_p99_ms: number;
  floor_eld_p99_ms: number;
}

export interface SyncBounds {
  /** For one peer command (connecting thousands of sessions takes seconds). */
  commandMs: number;
  /** For the observer to hold every node of a step. */
  catchUpMs: number;
}

/** Runs `op` on (up to `count`) peers and waits until the observer saw all of it; ms from the first call. */
async function massStep(
  fleet: PeerFleet,
  observer: { listen: (l: Observed['listeners']) => () => void },
  op: Op,
  count: number,
  b: SyncBounds,
): Promise<number> {
  const seen = new Observed();
  const unlisten = observer.listen(seen.listeners);
  try {
    const times: Times = await fleet.step(op, 0, b.commandMs, op === 'leave' ? count : undefined);
    if (times.length !== count) throw new Error(`${op}: ${times.length} peers stepped, not ${count}`);
    await seen.waitCount(op, count, b.catchUpMs);
    let first = Number.POSITIVE_INFINITY;
    for (const [, t] of times) if (t < first) first = t;
    return round(seen.lastAt(op) - first);
  } finally {
    unlisten();
  }
}

/**
 * A sync: from just before `observer`'s start() until its 'added' for every one of `peers` (ms), as `seen`
 * (listening on it) recorded them.
 */
export async function timeSync(
  observer: Observer,
  seen: Observed,
  peers: number,
  timeoutMs: number,
): Promise<number> {
  const started = monoNow();
  await observer.start();
  await Promise.all([observer.ready(timeoutMs), seen.waitCount('join', peers, timeoutMs)]);
  return seen.lastAt('join') - started;
}

/** `run` on a fresh `variant` observer (its constructor untimed) with `seen` listening; stopped after it whatever happens. */
async function withObserver<T>(
  variant: Variant,
  o: ObserverOptions,
  run: (observer: Observer, seen: Observed, unlisten: () => void) => Promise<T>,
): Promise<T> {
  const observer = createObserver(variant, o);
  try {
    const seen = new Observed();
    return await run(observer, seen, observer.listen(seen.listeners));
  } finally {
    await observer.stop();
  }
}

/** One sync of a fresh `variant` observer, measured. */
export function syncOnce(
  variant: Variant,
  o: ObserverOptions,
  floor: FloorProbe,
  peers: number,
  b: SyncBounds,
): Promise<Sync> {
  return withObserver(variant, o, async (observer, seen) => {
    const sync: Measured<number> = await measured(
      floor,
      () => observer.threads,
      b.commandMs,
      () => timeSync(observer, seen, peers, b.catchUpMs),
    );
    return {
      sync_ms: round(sync.value),
      eld_p99_ms: sync.eld.eld_p99_ms,
      eld_max_ms: sync.eld.eld_max_ms,
      peers,
      floor_eld_p99_ms: sync.floor.eld_p99_ms,
      ...sync.cpu,
    };
  });
}

/**
 * `runs` rounds of `run` (a sync) on the registered peers, which no sync changes: each round runs every client in
 * turn, so that the machine's drift falls on all of them alike. Each client's figure is its run with the median
 * time, with every run's time beside it in run order (`runs_ms`). One run was the figure before: the same client's
 * sync moved by up to 1.8x between runs here, more than the gaps between clients.
 */
export async function medianRounds<T extends { sync_ms: number }>(
  variants: readonly Variant[],
  runs: number,
  run: (variant: Variant) => Promise<T>,
): Promise<Map<Variant, T & { runs_ms: number[] }>> {
  const all = new Map<Variant, T[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < runs; r++) for (const v of variants) all.get(v)?.push(await run(v));
  const median = (s: T[]) => ({
    ...[...s].sort((x, y) => x.sync_ms - y.sync_ms)[s.length >> 1],
    runs_ms: s.map((x) => x.sync_ms),
  });
  return new Map([...all].map(([v, s]) => [v, median(s)]));
}

/** mass for one client, synced first (untimed), on a fleet that holds exactly `peers` joined peers. */
export function mass(
  variant: Variant,
  o: ObserverOptions,
  fleet: PeerFleet,
  floor: FloorProbe,
  peers: number,
  b: SyncBounds,
): Promise<Mass> {
  return withObserver(variant, o, async (observer, seen, unlisten) => {
    await timeSync(observer, seen, peers, b.catchUpMs);
    unlisten();
    const left = Math.floor(peers / 2);
    const rejoined = Math.floor(peers / 4);
    const m = await measured(
      floor,
      () => observer.threads,
      b.commandMs,
      async () => {
        const leave_ms = await massStep(fleet, observer, 'leave', left, b);
        await fleet.connect(rejoined, b.commandMs);
        const rejoin_ms = await massStep(fleet, observer, 'join', rejoined, b);
        return { leave_ms, rejoin_ms };
      },
    );
    return {
      ...m.value,
      left,
      rejoined,
      eld_p99_ms: m.eld.eld_p99_ms,
      floor_eld_p99_ms: m.floor.eld_p99_ms,
    };
  });
}

/** After mass(): new peers for the quarter that left for good, so `peers` are joined again. */
export async function refill(fleet: PeerFleet, peers: number, b: SyncBounds): Promise<void> {
  await fleet.connect(Math.floor(peers / 2) - Math.floor(peers / 4), b.commandMs);
  await fleet.step('join', 0, b.commandMs);
}
