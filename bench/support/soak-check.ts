/**
 * bench/soak's end checks: ZooKeeper's truth read by an independent client, and the node's table, counters
 * and handles held against it and against the warm-up sample.
 */
import { Cmd } from '../../src/zk/commands.js';
import type { PeerClient } from './peer-client.js';
import type { NodeSnapshot } from './soak-node.js';

const NO_NODE = -101;
/** CONNECTION_LOSS and OPERATION_TIMEOUT: the truth client's server is restarting; ask again. */
const TRANSIENT = [-4, -7];
const RETRY_MS = 20_000;

/** Runs a read, retrying while the client's connection fails over to another server (bounded). */
export async function retrying<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RETRY_MS;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!TRANSIENT.includes((err as { code?: number }).code ?? 0) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface Truth {
  /** Every peer znode: path → data. */
  peers: Map<string, string>;
  /** Full paths of every registration in the node's own type folder. */
  registrations: string[];
}

export async function readTruth(zk: PeerClient, peerFolder: string, ownFolder: string): Promise<Truth> {
  const names = await retrying(() => zk.children(peerFolder));
  const peers = new Map<string, string>();
  await Promise.all(
    names.map(async (name) => {
      const path = `${peerFolder}/${name}`;
      try {
        peers.set(path, (await retrying(() => zk.get(path))).data);
      } catch (err) {
        // Deleted since the listing: it is not part of the truth any more.
        if ((err as { code?: number }).code !== NO_NODE) throw err;
      }
    }),
  );
  const own = await retrying(() => zk.children(ownFolder));
  return { peers, registrations: own.map((n) => `${ownFolder}/${n}`) };
}

/**
 * Every difference between the node's table and the truth, paths and data. The soak's peers never share a
 * port, so every entry must also serve: a shadowed one means the table lost track of which node is current.
 */
export function tableMismatches(node: NodeSnapshot, truth: Truth): string[] {
  const out: string[] = [];
  const entries = new Map(node.entries.map((n) => [n.path, n]));
  for (const [path, data] of truth.peers) {
    const n = entries.get(path);
    if (!n) {
      out.push(`missing ${path}`);
      continue;
    }
    const zk = JSON.parse(data) as { host: string; port: string; worker_cnt: number; active_time: number };
    const same =
      n.type === 'peer' &&
      n.host === zk.host &&
      n.port === Number(zk.port) &&
      n.worker_cnt === zk.worker_cnt &&
      n.active_time === zk.active_time;
    if (!same) out.push(`stale ${path}: table ${JSON.stringify(n)}, ZooKeeper ${data}`);
  }
  for (const path of entries.keys()) if (!truth.peers.has(path)) out.push(`extra ${path}`);
  const serving = new Set(node.serving.map((n) => n.path));
  for (const path of entries.keys()) if (!serving.has(path)) out.push(`shadowed ${path}`);
  return out;
}

/** Task commands only: events (EV_*) are acks with no task, counted under their own names. */
const TASK_CMDS = Object.keys(Cmd).filter((name) => !name.startsWith('EV_'));

export interface TaskAcks {
  /** Per task command: tasks queued and acks handled. */
  perCmd: Record<string, { tasks: number; acks: number }>;
  /** Event acks by name, for the report. */
  events: Record<string, number>;
  pendingTasks: number;
  ok: boolean;
}

export function taskAcks(node: NodeSnapshot): TaskAcks {
  const perCmd: Record<string, { tasks: number; acks: number }> = {};
  for (const cmd of TASK_CMDS) {
    const tasks = node.tasks[cmd] ?? 0;
    const acks = node.acks[cmd] ?? 0;
    if (tasks > 0 || acks > 0) perCmd[cmd] = { tasks, acks };
  }
  const events = Object.fromEntries(Object.entries(node.acks).filter(([cmd]) => !TASK_CMDS.includes(cmd)));
  const ok =
    Object.values(perCmd).every((c) => c.tasks === c.acks) &&
    node.pendingTasks === 0 &&
    node.queued.tasks === 0 &&
    node.queued.acks === 0;
  return { perCmd, events, pendingTasks: node.pendingTasks, ok };
}

/** Kinds whose count grew from `start` to `end` (handles, timers or fds), as "kind start→end". */
export function growth(start: Record<string, number>, end: Record<string, number>): string[] {
  return Object.entries(end)
    .filter(([kind, n]) => n > (start[kind] ?? 0))
    .map(([kind, n]) => `${kind} ${start[kind] ?? 0}→${n}`);
}
