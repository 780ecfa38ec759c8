/**
 * bench/discovery's cold sync: one client syncing the registered peers in a process forked for it alone, as a
 * server meets them when it starts: none of the client's code has run in that process before. The in-process
 * sync5k runs each client after its convergence rounds and storms, so there the main-thread clients' code (their
 * library, the table, MD5) is optimised already, while zkbio's bio thread is a new V8 isolate that compiles its
 * code afresh each time. Both figures are reported; this one compares every client as it starts.
 *
 * The child answers one `sync` command: from just before the client's start() until its 'added' event for every
 * peer, and the CPU of the whole child process (every thread) over that time.
 */
import { loadNative } from './discovery-native.js';
import { Observed, round } from './discovery-observe.js';
import { createObserver, type Variant } from './discovery-observers.js';
import { timeSync } from './discovery-sync.js';
import { IpcChild, serveCommands } from './ipc-child.js';

export interface ColdSync {
  sync_ms: number;
  /** The child process's CPU, user and system, every thread. */
  cpu_ms: number;
  peers: number;
  /** Every run's sync_ms, in run order, when the figure is the median of several (bench/discovery). */
  runs_ms?: number[];
}

interface SyncCommand {
  op: 'sync';
  variant: Variant;
  connectString: string;
  root: string;
  peers: number;
  timeoutMs: number;
}

/** Forks a fresh process, syncs `variant` on the `peers` registered under `root` in it, and ends the process. */
export async function coldSync(
  variant: Variant,
  connectString: string,
  root: string,
  peers: number,
  timeoutMs: number,
): Promise<ColdSync> {
  const child = new IpcChild<SyncCommand>(new URL(import.meta.url));
  try {
    const cmd: SyncCommand = { op: 'sync', variant, connectString, root, peers, timeoutMs };
    const { result } = await child.request<{ ok: true; result: ColdSync }>(cmd, 2 * timeoutMs);
    return result;
  } finally {
    await child.close();
  }
}

async function sync(cmd: SyncCommand): Promise<ColdSync> {
  const native = cmd.variant === 'native' ? loadNative() : undefined;
  if (typeof native === 'string') throw new Error(`native: ${native}`);
  const observer = createObserver(cmd.variant, { connectString: cmd.connectString, root: cmd.root, native });
  const seen = new Observed();
  const unlisten = observer.listen(seen.listeners);
  try {
    const cpu0 = process.cpuUsage();
    const ms = await timeSync(observer, seen, cmd.peers, cmd.timeoutMs);
    const cpu = process.cpuUsage(cpu0);
    return {
      sync_ms: round(ms),
      cpu_ms: round((cpu.user + cpu.system) / 1000),
      peers: cmd.peers,
    };
  } finally {
    unlisten();
    await observer.stop();
  }
}

serveCommands(async (cmd: SyncCommand) => ({ ok: true, result: await sync(cmd) }));
