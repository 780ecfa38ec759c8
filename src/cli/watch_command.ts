// `zkbio watch`: the nodes under the root, then every change as it happens: added, removed, changed (the
// serving view's diff, from the same Nodes table a node keeps) and bad (peer data a node would skip). Lines,
// or JSON lines with --json. Runs until SIGINT or SIGTERM (exit 0); a session that expires is opened again.
import { parseArgs } from 'node:util';
import type { BadPeer } from '../discovery/bad_peers.js';
import type { NodesChange } from '../nodes/table.js';
import type { ZkNode } from '../nodes/validate.js';
import { ZCALLTIMEOUT, ZCLOSING, ZCONNECTIONLOSS, ZkError, ZSESSIONEXPIRED } from '../zk/errors.js';
import type { ZkEvent, ZkSession } from '../zk/session.js';
import { parsed } from './usage.js';
import { ZkTable } from './zk_table.js';
import { openSession, resolveTarget, TARGET_FLAGS, type ZkTarget } from './zk_target.js';

type WatchEvent =
  | { event: 'added' | 'removed'; node: ZkNode }
  | { event: 'changed'; old: ZkNode; new: ZkNode }
  | ({ event: 'bad' } & BadPeer);

const describe = (n: ZkNode) => `${n.path} ${n.host}:${n.port} workers=${n.worker_cnt}`;

function line(e: WatchEvent): string {
  switch (e.event) {
    case 'added':
    case 'removed':
      return `${e.event} ${describe(e.node)}`;
    case 'changed':
      return `changed ${describe(e.new)} (was ${e.old.host}:${e.old.port} workers=${e.old.worker_cnt})`;
    case 'bad':
      return `bad ${e.path} ${e.reason}: ${e.detail}`;
  }
}

const TRANSIENT = new Set([ZCONNECTIONLOSS, ZCALLTIMEOUT, ZSESSIONEXPIRED, ZCLOSING]);
const RETRY_MS = 1000;

class Watcher {
  private session: ZkSession | undefined;
  private table: ZkTable | undefined;
  /** Types being read, and those to read again once that is done (events that came meanwhile). */
  private readonly reading = new Set<string>();
  private readonly again = new Set<string>();
  private known = new Set<string>();
  private stopped = false;
  /** A session is being opened and read: its state events are no news (watch events come from its reads). */
  private starting = false;

  constructor(
    private readonly target: ZkTarget,
    private readonly print: (e: WatchEvent) => void,
  ) {}

  async start(): Promise<void> {
    this.starting = true;
    try {
      const session = await openSession(this.target, (e) => this.onEvent(e));
      // The previous session's table carries over, so a new session reports only what really changed.
      const table = this.table ?? this.newTable(session);
      table.useSession(session);
      this.session = session;
      this.table = table;
      await this.resyncAll();
    } finally {
      this.starting = false;
    }
  }

  private newTable(session: ZkSession): ZkTable {
    const table = new ZkTable(session, this.target.root, this.target.maxNodeBytes, true, (bad) =>
      this.print({ event: 'bad', ...bad }),
    );
    table.nodes.on('change', (c: NodesChange) => {
      for (const node of c.removed) this.print({ event: 'removed', node });
      for (const node of c.added) this.print({ event: 'added', node });
      for (const { old, new: now } of c.changed) this.print({ event: 'changed', old, new: now });
    });
    return table;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.session?.close();
  }

  private async resyncAll(): Promise<void> {
    const table = this.table as ZkTable;
    if (this.target.type === undefined) {
      const types = await table.types();
      // A type folder that went: its nodes went with it.
      for (const gone of this.known) if (!types.includes(gone)) table.nodes.applyChildren(gone, []);
      this.known = new Set(types);
    } else this.known = new Set([this.target.type]);
    await Promise.all([...this.known].map((t) => this.read(t)));
  }

  /** Reads a type again; one read per type at a time, and one more if events came meanwhile. */
  private async read(type: string): Promise<void> {
    if (this.reading.has(type)) {
      this.again.add(type);
      return;
    }
    this.reading.add(type);
    try {
      do {
        this.again.delete(type);
        await (this.table as ZkTable).readType(type);
      } while (this.again.has(type) && !this.stopped);
    } finally {
      this.reading.delete(type);
    }
  }

  private onEvent(e: ZkEvent): void {
    if (this.stopped) return;
    if (e.type === 'watch') {
      const root = this.target.root;
      if (e.path === root) void this.guard(this.resyncAll());
      else {
        // {root}/{type} or {root}/{type}/{node}: read that type again.
        const type = e.path.slice(root.length + 1).split('/')[0];
        if (e.path.startsWith(`${root}/`) && this.known.has(type)) void this.guard(this.read(type));
      }
    } else if (e.type === 'state' && !this.starting) {
      if (e.state === 'disconnected')
        process.stderr.write('zkbio watch: ZooKeeper connection lost; reconnecting\n');
      if (e.state === 'connected') void this.guard(this.resyncAll());
      if (e.state === 'expired') {
        process.stderr.write('zkbio watch: ZooKeeper session expired; opening a new one\n');
        void this.guard(this.session?.close().then(() => this.start()) ?? this.start());
      }
    }
  }

  /**
   * A read cut off by the connection (lost, timed out, or the session expiring under it) is tried again
   * shortly: the session's own events reconnect or open a new one. Any other failure ends the command, as a
   * failure of the first read would.
   */
  private async guard(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof ZkError && TRANSIENT.has(err.code)) {
        setTimeout(() => void this.guard(this.resyncAll()), RETRY_MS);
        return;
      }
      process.stderr.write(`zkbio watch: ${(err as Error).message}\n`);
      await this.stop();
      process.exit(1);
    }
  }
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parsed(() => parseArgs({ args: argv, options: TARGET_FLAGS }));
  const target = resolveTarget(values);
  const print = (e: WatchEvent) => process.stdout.write(`${values.json ? JSON.stringify(e) : line(e)}\n`);
  const watcher = new Watcher(target, print);
  await watcher.start();
  process.stderr.write(`zkbio watch: watching ${target.type ?? 'every type'} under ${target.root}\n`);
  const stop = () => void watcher.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
