/**
 * CPU time of bench/discovery's observer process over a window, and of its threads apart. Node 20 has no
 * per-thread CPU clock (process.cpuUsage() is process-wide, in a worker too), so the split reads Linux's
 * /proc/self/task/<tid>/schedstat: nanoseconds on a CPU, user and system together. The main thread's tid is the
 * pid; a client's own threads (zkbio's bio worker) are the ones that appeared while it started. Without /proc
 * (not Linux) only the process figure is given.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Cpu {
  /** The whole process: every thread, the harness's IPC with the peers included (the same for every variant). */
  cpu_ms: number;
  /** The main thread alone. */
  cpu_main_ms?: number;
  /** The threads the client started (zkbio: the bio worker); absent when it started none. */
  cpu_bio_ms?: number;
}

const round = (x: number): number => Number(x.toFixed(1));

/** The ids of this process's threads now; empty where /proc has no task list. */
export function threadIds(): Set<number> {
  try {
    return new Set(readdirSync('/proc/self/task').map(Number));
  } catch {
    return new Set();
  }
}

/** Nanoseconds thread `tid` ran so far; undefined once it is gone (or without /proc). */
function threadNs(tid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

/** Starts counting; the returned function stops and gives the CPU used since. */
export function cpuWindow(clientThreads: () => readonly number[]): () => Cpu {
  const proc = process.cpuUsage();
  const main = threadNs(process.pid);
  // A client thread not known yet when the window starts (zkbio's, while its start() runs) counts from its birth.
  const before = new Map(clientThreads().map((tid) => [tid, threadNs(tid) ?? 0]));
  return () => {
    const used = process.cpuUsage(proc);
    const out: Cpu = { cpu_ms: round((used.user + used.system) / 1000) };
    const mainNow = threadNs(process.pid);
    if (main !== undefined && mainNow !== undefined) out.cpu_main_ms = round((mainNow - main) / 1e6);
    let bio: number | undefined;
    for (const tid of clientThreads()) {
      const ns = threadNs(tid);
      if (ns !== undefined) bio = (bio ?? 0) + ns - (before.get(tid) ?? 0);
    }
    if (bio !== undefined) out.cpu_bio_ms = round(bio / 1e6);
    return out;
  };
}
