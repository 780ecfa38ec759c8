/**
 * The node under test of bench/soak, forked as its own process (soak-node-handle.ts is the parent's side), so
 * the soak driver can freeze it with SIGSTOP past its session timeout and measure its heap, handles and file
 * descriptors without the driver's own (the ZooKeeper ensemble's pipes, the truth client's socket) mixed in.
 *
 * It runs one ZkClient from a kimserver-style config, reports a load payload every second as a server
 * would, and answers commands over IPC, one reply each:
 *   start     parse the config, start the client, wait until it is ready
 *   snapshot  the table, session, counters, Bio queue, heap (after a full GC if asked) and handles
 *   stop      a graceful stop (the session is closed, so the registration goes at once)
 * Run it with --expose-gc: a heap figure taken without a GC just before says little about growth.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import type { Bio } from '../../src/bio/bio.js';
import { parseConfig } from '../../src/discovery/config.js';
import { ZkClient } from '../../src/discovery/zk_client.js';
import type { SessionState } from '../../src/metrics.js';
import type { ZkNode } from '../../src/nodes/validate.js';
import { type IpcReply, serveCommands } from './ipc-child.js';

export type NodeCommand =
  | { op: 'start'; config: Record<string, unknown>; readyMs: number }
  | { op: 'snapshot'; gc: boolean }
  | { op: 'stop' };

export interface NodeSnapshot {
  ok: true;
  state: SessionState;
  self: string | null;
  healthy: boolean;
  /** nodes.list(): the serving view. */
  serving: ZkNode[];
  /** nodes.entries(): every znode the table holds, shadowed ones included. */
  entries: ZkNode[];
  /** zkbio_tasks_total and zkbio_acks_total by cmd name. */
  tasks: Record<string, number>;
  acks: Record<string, number>;
  expiries: number;
  registrations: number;
  /** Tasks queued or in flight on the bio thread, and records waiting in each ring. */
  pendingTasks: number;
  queued: { tasks: number; acks: number };
  heapUsed: number;
  rss: number;
  /** process.getActiveResourcesInfo() counted by type: the main thread's handles, requests and timers. */
  resources: Record<string, number>;
  /**
   * Open file descriptors by kind (socket, pipe, anon_inode:…, file). These cover the bio worker thread too,
   * whose ZooKeeper socket getActiveResourcesInfo() (main thread only) cannot see.
   */
  fds: Record<string, number>;
}

let client: ZkClient | undefined;
let payloadTimer: NodeJS.Timeout | undefined;

async function counts(counter: ZkClient['metrics']['tasksTotal']): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await counter.get()).values) out[String(v.labels.cmd)] = v.value;
  return out;
}

async function single(counter: ZkClient['metrics']['sessionExpiriesTotal']): Promise<number> {
  return (await counter.get()).values[0]?.value ?? 0;
}

function tally(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return out;
}

/** Kinds of this process's open fds: "socket:[123]" → socket, "/some/file" → file. */
function fdKinds(): string[] {
  const kinds: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd readdir itself used, closed by now
    }
    kinds.push(target.startsWith('/') ? 'file' : target.replace(/:\[\d+\]$/, '').replace(/^anon_inode:/, ''));
  }
  return kinds;
}

async function snapshot(c: ZkClient, gc: boolean): Promise<NodeSnapshot> {
  const runGc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    if (!runGc) throw new Error('snapshot with gc needs --expose-gc');
    // Twice: the first pass can leave objects that only its finalizers released.
    runGc();
    runGc();
  }
  const m = c.metrics;
  // The test suites reach the Bio the same way: ZkClient keeps it private, as it should for users.
  const bio = (c as unknown as { bio: Bio }).bio;
  const mem = process.memoryUsage();
  return {
    ok: true,
    state: c.state,
    self: c.self,
    healthy: c.healthy,
    serving: c.nodes.list(),
    entries: c.nodes.entries(),
    tasks: await counts(m.tasksTotal),
    acks: await counts(m.acksTotal),
    expiries: await single(m.sessionExpiriesTotal),
    registrations: await single(m.registrationsTotal),
    pendingTasks: bio.pendingTasks,
    queued: bio.queueDepths(),
    heapUsed: mem.heapUsed,
    rss: mem.rss,
    resources: tally(process.getActiveResourcesInfo()),
    fds: tally(fdKinds()),
  };
}

async function handle(cmd: NodeCommand): Promise<IpcReply | NodeSnapshot> {
  switch (cmd.op) {
    case 'start': {
      if (client) throw new Error('already started');
      client = new ZkClient(parseConfig(cmd.config));
      await client.start();
      await client.ready(cmd.readyMs);
      let reports = 0;
      payloadTimer = setInterval(
        () => client?.setPayload({ reports: ++reports, rss: process.memoryUsage.rss() }),
        1000,
      );
      return { ok: true };
    }
    case 'snapshot':
      if (!client) throw new Error('not started');
      return snapshot(client, cmd.gc);
    case 'stop':
      clearInterval(payloadTimer);
      await client?.stop();
      return { ok: true };
  }
}

// The driver is done or gone: close the session (peers see the node go at once), then exit.
serveCommands(handle, () => {
  clearInterval(payloadTimer);
  const stopped = client?.stop() ?? Promise.resolve();
  stopped.finally(() => process.exit(0));
});
