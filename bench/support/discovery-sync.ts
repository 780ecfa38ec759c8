/**
 * bench/discovery's large scenarios, on one set of thousands of peers registered once (split over a few peer
 * processes) and every client in turn:
 *   sync5k  a node starting while the peers are registered: from just before its start() (its constructor runs
 *           before, untimed) until it has emitted 'added' for every one of them; this loop's delay, the
 *           floor's and the CPU over that time
 *   mass    half the peers closing their sessions at once, then a quarter (new sessions, connected first)
 *           creating their nodes at once: from just before the first peer's call until the observer's last
 *           event of the step
 * Between clients, refill() connects and joins new peers, untimed, so each client starts on the same count.
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

/** sync5k and mass for one client, on a fleet that holds exactly `peers` joined peers; leaves it that way. */
export async function syncAndMass(
  variant: Variant,
  o: ObserverOptions,
  fleet: PeerFleet,
  floor: FloorProbe,
  peers: number,
  b: SyncBounds,
): Promise<{ sync5k: Sync; mass: Mass }> {
  const observer = createObserver(variant, o);
  try {
    const seen = new Observed();
    const unlisten = observer.listen(seen.listeners);
    const sync: Measured<number> = await measured(
      floor,
      () => observer.threads,
      b.commandMs,
      () => timeSync(observer, seen, peers, b.catchUpMs),
    );
    unlisten();
    const left = Math.floor(peers / 2);
    const rejoined = Math.floor(peers / 4);
    const mass = await measured(
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
      sync5k: {
        sync_ms: round(sync.value),
        eld_p99_ms: sync.eld.eld_p99_ms,
        eld_max_ms: sync.eld.eld_max_ms,
        peers,
        floor_eld_p99_ms: sync.floor.eld_p99_ms,
        ...sync.cpu,
      },
      mass: {
        ...mass.value,
        left,
        rejoined,
        eld_p99_ms: mass.eld.eld_p99_ms,
        floor_eld_p99_ms: mass.floor.eld_p99_ms,
      },
    };
  } finally {
    await observer.stop();
  }
}

/** After syncAndMass: new peers for the quarter that left for good, so `peers` are joined again. */
export async function refill(fleet: PeerFleet, peers: number, b: SyncBounds): Promise<void> {
  await fleet.connect(Math.floor(peers / 2) - Math.floor(peers / 4), b.commandMs);
  await fleet.step('join', 0, b.commandMs);
}
