/**
 * `npm run bench -- discovery [--quick] [--variants=zkbio,native,...]`: zkbio's ZkClient, with its default
 * persistent recursive watches and with one-shot watches only (`zkbioOneShot`, the fallback for ZooKeeper
 * before 3.6), against the obvious alternatives on the main thread, node-zookeeper-client (`mainThreadClient`)
 * and the native C binding (`native`, built on demand into bench/native, skipped with the reason when it cannot
 * be built), on one
 * loopback ZooKeeper started for the run. Every client feeds zkbio's Nodes table.
 *
 * Convergence: 100 peers, each its own session, join ~10 ms apart, then change their data, then leave (graceful
 * close), ~10 ms apart each time, on an observer that has first met a storm of each (convergenceRound()); one
 * round on a fresh observer is reported apart as `cold`. Each sample is the observer's 'added' / 'changed' / 'removed' event minus the
 * moment just before the peer's call (create, setData, close; see discovery-peers.ts). The full run repeats this
 * ROUNDS times, on fresh sessions and a fresh observer each time, for a p99 that is more than the second-worst
 * sample.
 *
 * Storm: 1,000 peers create their nodes all at once, and once the observer holds all of them, close their
 * sessions all at once; on one observer, after two such storms, the first reported as storm_cold (see storms()). Over each storm: the main loop's delay (monitorEventLoopDelay at 1 ms resolution),
 * the observer process's CPU (main thread and zkbio's bio thread apart, discovery-cpu.ts), and the floor: the
 * same delay histogram in an idle Node process beside it (discovery-floor.ts). No client can beat the floor.
 *
 * sync5k and mass (discovery-sync.ts): 5,000 peers registered before a client starts; then half of them leave
 * at once and a quarter join again. rss (discovery-rss.ts): a real `zkbio node` with one worker process on the
 * same 5,000 peers, and the memory of its processes.
 *
 * The peers run in forked processes for every phase: in this process their sockets, pings and callbacks would
 * share the loop with the observer, so a sample would include the peers' own work, and the peers' timestamps
 * would wait behind the observer's. All processes share one clock: monoNow() is CLOCK_MONOTONIC, machine-wide.
 */
import { readFile } from 'node:fs/promises';
import { startZk } from '../src/cli/zk_server.js';
import type { Bench } from './index.js';
import { coldSync } from './support/discovery-cold-sync.js';
import { FloorProbe, PeerFleet } from './support/discovery-fleet.js';
import { loadNative, type NativeBinding } from './support/discovery-native.js';
import { type Convergence, measured, Observed, type Op } from './support/discovery-observe.js';
import { createObserver, type Observer, TYPE, type Variant } from './support/discovery-observers.js';
import { type Results, type Storm, table, targets } from './support/discovery-report.js';
import { nodeRss, rssSupported } from './support/discovery-rss.js';
import { mass, medianRounds, refill, syncOnce } from './support/discovery-sync.js';

const PEERS = 100;
const STORM_PEERS = 1000;
/** Storms on each storm observer before the measured one (see storms()); --quick has time for one. */
const WARM_STORMS = 2;
/** Peers of the storm that warms each convergence round's observer; fewer in --quick, for its 50 s. */
const QUICK_WARM_PEERS = 300;
const SYNC_PEERS = 5000;
/** --quick's sync set: 5,000 sessions take too long to connect for its 50 s, on this 2-core machine. */
const QUICK_SYNC_PEERS = 1000;
/** Peer processes for the sync set: 1,000 sessions each, as in the storm. */
const SYNC_PROCESSES = 5;
/** Syncs of each client, in process and in a fresh process (the median is the figure); one in --quick. */
const SYNC_RUNS = 3;
const GAP_MS = 10;
const FULL_ROUNDS = 3;
/** Peers' session timeout: the server's maximum (20 ticks), so 5,000 sessions' pings stay few. */
const TICK_MS = 1000;
const PEER_SESSION_MS = 20 * TICK_MS;
/** Bounds: the peers' commands (thousands of sessions connect in some seconds here) and the observer's catching up. */
const COMMAND_MS = 60_000;
const CATCH_UP_MS = 30_000;
const VARIANTS: readonly Variant[] = ['zkbio', 'zkbioOneShot', 'mainThreadClient', 'native'];

interface Run {
  connectString: string;
  floor: FloorProbe;
  /** The peers' process of the convergence rounds and storms: each phase connects new sessions in it. */
  fleet: PeerFleet;
  native?: NativeBinding;
}

/**
 * Fresh peers (new sessions in the run's peers process; each phase ends with all of them gone) and a fresh,
 * ready observer on a fresh folder, stopped whatever happens.
 */
async function withPeers<T>(
  variant: Variant,
  run: Run,
  root: string,
  count: number,
  body: (fleet: PeerFleet, observer: Observer) => Promise<T>,
): Promise<T> {
  const fleet = run.fleet;
  let observer: Observer | undefined;
  try {
    await fleet.connect(count, COMMAND_MS);
    await fleet.mkdirp(`${root}/${TYPE}`, COMMAND_MS);
    observer = createObserver(variant, { connectString: run.connectString, root, native: run.native });
    await observer.start();
    await observer.ready(CATCH_UP_MS);
    return await body(fleet, observer);
  } finally {
    await observer?.stop();
  }
}

/** Every peer takes each step in turn, all at once, and the observer sees every one of them before the next. */
async function atOnce(
  fleet: PeerFleet,
  observer: Observer,
  ops: readonly Op[],
  count: number,
): Promise<void> {
  const seen = new Observed();
  const unlisten = observer.listen(seen.listeners);
  try {
    for (const op of ops) {
      await fleet.step(op, 0, COMMAND_MS);
      await seen.waitCount(op, count, CATCH_UP_MS);
    }
  } finally {
    unlisten();
  }
}

/**
 * One measured join, change and leave of PEERS peers, GAP_MS apart. With `warmPeers`, the observer has first met
 * one unmeasured storm of each (that many peers at once): a server measured after it has run a while. Without it,
 * the observer's code runs for the first time in the client's own isolate: zkbio's bio thread is a new isolate
 * per client, and its first hundreds of events run unoptimised (traced here: a leave's path through the bio thread
 * took ~100 µs longer cold), while the other clients' code runs on the main thread, warm from earlier rounds.
 */
async function convergenceRound(
  variant: Variant,
  run: Run,
  root: string,
  into: Observed,
  warmPeers: number,
): Promise<void> {
  await withPeers(variant, run, root, warmPeers > 0 ? warmPeers : PEERS, async (fleet, observer) => {
    if (warmPeers > 0) {
      await atOnce(fleet, observer, ['join', 'change', 'leave'], warmPeers);
      await fleet.connect(PEERS, COMMAND_MS);
    }
    const unlisten = observer.listen(into.listeners);
    try {
      for (const op of ['join', 'change', 'leave'] as const) {
        const times = await fleet.step(op, GAP_MS, COMMAND_MS);
        await into.settle(op, times, CATCH_UP_MS);
      }
    } finally {
      unlisten();
    }
  });
}

/** One storm: every peer creates its node at once, and once the observer holds all of them, closes at once. */
async function stormOnce(run: Run, observer: Observer): Promise<Storm> {
  const m = await measured(
    run.floor,
    () => observer.threads,
    COMMAND_MS,
    () => atOnce(run.fleet, observer, ['join', 'leave'], STORM_PEERS),
  );
  return {
    ...m.eld,
    peers: STORM_PEERS,
    ...m.cpu,
    floor_eld_p99_ms: m.floor.eld_p99_ms,
    floor_eld_max_ms: m.floor.eld_max_ms,
  };
}

/**
 * Storms on one observer: the first (storm_cold) is the first time the client's code meets this much work; the
 * headline `storm` comes after `warmStorms` of them, as a server that has run a while meets one. The warm-up
 * rounds warm every client's main thread, but zkbio's bio thread is a new isolate per client, and V8 keeps
 * compiling its code through its first storms: measured here, CPU per storm on one zkbio observer went 337,
 * 292, 129, 111, 153 ms, then stays flat; the other clients' storms are flat from the first.
 */
async function storms(
  variant: Variant,
  run: Run,
  root: string,
  warmStorms: number,
): Promise<{ storm: Storm; storm_cold: Storm }> {
  return withPeers(variant, run, root, STORM_PEERS, async (fleet, observer) => {
    const storm_cold = await stormOnce(run, observer);
    for (let i = 1; i < warmStorms; i++) {
      await fleet.connect(STORM_PEERS, COMMAND_MS);
      await stormOnce(run, observer);
    }
    await fleet.connect(STORM_PEERS, COMMAND_MS);
    return { storm: await stormOnce(run, observer), storm_cold };
  });
}

/** sync5k (in this process, then in a fresh one per client, on a full run) and mass for every client on one registered set of peers. */
async function syncAll(
  variants: readonly Variant[],
  run: Run,
  peers: number,
  results: Results,
  full: boolean,
): Promise<void> {
  const root = '/bench/sync';
  const fleet = new PeerFleet(run.connectString, PEER_SESSION_MS, SYNC_PROCESSES);
  const bounds = { commandMs: COMMAND_MS, catchUpMs: CATCH_UP_MS };
  try {
    await fleet.connect(peers, COMMAND_MS);
    await fleet.mkdirp(`${root}/${TYPE}`, COMMAND_MS);
    await fleet.step('join', 0, COMMAND_MS);
    // First, while the set is as registered (a refill more, after the clients, timed out connecting here).
    // --quick has no time for it (and its 1,000 peers are not the target's 5,000).
    const rssResult =
      full && variants.includes('zkbio') && rssSupported()
        ? await nodeRss(run.connectString, root, peers, CATCH_UP_MS)
        : undefined;
    if (rssResult) {
      const { rss_mb, rss_primary_mb, rss_workers_mb, private_mb, rss_idle_mb } = await nodeRss(
        run.connectString,
        '/bench/no-peers',
        0,
        CATCH_UP_MS,
      );
      rssResult.empty = { rss_mb, rss_primary_mb, rss_workers_mb, private_mb, rss_idle_mb };
    }
    // Each client in a process of its own, while the set is as registered (no --quick: no time for it), in
    // rounds of every client in turn, as the in-process syncs below.
    if (full) {
      const cold = await medianRounds(variants, SYNC_RUNS, (v) =>
        coldSync(v, run.connectString, root, peers, CATCH_UP_MS),
      );
      for (const [v, c] of cold) results[v].sync5k_cold = c;
    }
    const o = { connectString: run.connectString, root, native: run.native };
    const syncs = await medianRounds(variants, full ? SYNC_RUNS : 1, (v) =>
      syncOnce(v, o, run.floor, peers, bounds),
    );
    for (const [i, v] of variants.entries()) {
      if (i > 0) await refill(fleet, peers, bounds);
      results[v].sync5k = syncs.get(v);
      results[v].mass = await mass(v, o, fleet, run.floor, peers, bounds);
    }
    if (rssResult) results.zkbio.rss = rssResult;
  } finally {
    await fleet.close();
  }
}

function chosenVariants(args: string[]): Variant[] {
  const flag = args.find((a) => a.startsWith('--variants='));
  if (!flag) return [...VARIANTS];
  const names = flag.slice('--variants='.length).split(',');
  for (const n of names)
    if (!VARIANTS.includes(n as Variant))
      throw new Error(`--variants: unknown '${n}' (${VARIANTS.join(', ')})`);
  return names as Variant[];
}

const bench: Bench = async ({ quick, args }) => {
  const rounds = quick ? 1 : FULL_ROUNDS;
  const warmPeers = quick ? QUICK_WARM_PEERS : STORM_PEERS;
  const warmStorms = quick ? 1 : WARM_STORMS;
  const syncPeers = quick ? QUICK_SYNC_PEERS : SYNC_PEERS;
  let variants = chosenVariants(args);
  const notes: string[] = [];
  let native: NativeBinding | undefined;
  if (variants.includes('native')) {
    const loaded = loadNative();
    if (typeof loaded === 'string') {
      notes.push(`native skipped: ${loaded}`);
      console.error(`discovery: ${notes[0]}`);
      variants = variants.filter((v) => v !== 'native');
    } else native = loaded;
  }
  // libuv starts its thread pool at the first use: before any client, so its threads are not taken for a client's.
  await readFile('/proc/self/stat').catch(() => undefined);
  const zk = await startZk({ local: true, tickTime: TICK_MS });
  const floor = new FloorProbe();
  const run: Run = {
    connectString: zk.connectString,
    floor,
    fleet: new PeerFleet(zk.connectString, PEER_SESSION_MS),
    native,
  };
  const results = {} as Results;
  try {
    const observed = new Map(variants.map((v) => [v, new Observed()]));
    const cold = new Map(variants.map((v) => [v, new Observed()]));
    // One cold round each first (reported as `cold`; not in --quick): for whichever variant runs first, it is
    // also the first time this process runs the table's code.
    if (!quick)
      for (const v of variants)
        await convergenceRound(v, run, `/bench/${v}-cold`, cold.get(v) as Observed, 0);
    // Rounds alternate the variants, so a slow spell of the machine does not land on one of them only.
    for (let round = 0; round < rounds; round++) {
      for (const v of variants)
        await convergenceRound(v, run, `/bench/${v}-r${round}`, observed.get(v) as Observed, warmPeers);
    }
    for (const v of variants) {
      const c: Convergence = (observed.get(v) as Observed).convergence();
      const coldRound = quick ? {} : { cold: (cold.get(v) as Observed).convergence() };
      results[v] = { ...c, ...coldRound, ...(await storms(v, run, `/bench/${v}-storm`, warmStorms)) };
    }
    await syncAll(variants, run, syncPeers, results, !quick);
  } finally {
    await run.fleet.close();
    await floor.close();
    await zk.stop();
  }
  const header = `discovery: ${PEERS} peers x ${rounds} round(s), ${GAP_MS} ms apart; storm: ${STORM_PEERS} peers at once; sync: ${syncPeers} peers`;
  return { results, targets: targets(results), table: table(header, results, notes) };
};

export default bench;
