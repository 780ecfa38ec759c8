/**
 * The parent's handles on bench/discovery's forked helpers: the peers (discovery-peers.ts), split over a few
 * processes when there are thousands of sessions, and the floor probe (discovery-floor.ts).
 */

import type { EldWindow } from './discovery-observe.js';
import type { PeerCommand, StepOp } from './discovery-peers.js';
import { IpcChild } from './ipc-child.js';

const PEERS_SCRIPT = new URL('./discovery-peers.js', import.meta.url);
const FLOOR_SCRIPT = new URL('./discovery-floor.js', import.meta.url);
/** Peer names are `peer-{port}`; each process numbers its peers from its own base, so names never collide. */
const BASE_PORT = 20_000;
const PORTS_PER_PROCESS = 8_000;

export type Times = [path: string, t: number][];

/** Peers in `processes` forked processes; a command goes to all of them, its counts split evenly. */
export class PeerFleet {
  private readonly children: IpcChild<PeerCommand>[];

  constructor(
    private readonly connectString: string,
    private readonly sessionTimeoutMs: number,
    processes = 1,
  ) {
    this.children = Array.from({ length: processes }, () => new IpcChild<PeerCommand>(PEERS_SCRIPT));
  }

  /** Opens `count` more sessions (peers without a node yet). */
  async connect(count: number, timeoutMs: number): Promise<void> {
    await this.each(timeoutMs, (i) => ({
      op: 'connect',
      connectString: this.connectString,
      count: this.share(count, i),
      basePort: BASE_PORT + i * PORTS_PER_PROCESS,
      sessionTimeoutMs: this.sessionTimeoutMs,
    }));
  }

  async mkdirp(path: string, timeoutMs: number): Promise<void> {
    await Promise.all(this.children.map((c) => c.request({ op: 'mkdirp', path }, timeoutMs)));
  }

  /** One step on every peer it applies to (up to `count` in all for a leave); the times just before each call. */
  async step(op: StepOp, gapMs: number, timeoutMs: number, count?: number): Promise<Times> {
    const replies = await this.each(timeoutMs, (i) => ({
      op,
      gapMs,
      report: true,
      ...(count === undefined ? {} : { count: this.share(count, i) }),
    }));
    return replies.flatMap((r) => r.times ?? []);
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => c.close()));
  }

  private share(count: number, i: number): number {
    const n = this.children.length;
    return Math.floor(count / n) + (i < count % n ? 1 : 0);
  }

  private each(timeoutMs: number, cmd: (i: number) => PeerCommand): Promise<{ ok: true; times?: Times }[]> {
    return Promise.all(
      this.children.map((c, i) => c.request<{ ok: true; times?: Times }>(cmd(i), timeoutMs)),
    );
  }
}

/** An idle Node process that samples its own event-loop delay over the windows the parent marks. */
export class FloorProbe extends IpcChild<{ op: 'start' | 'stop' }> {
  constructor() {
    super(FLOOR_SCRIPT);
  }

  async start(timeoutMs: number): Promise<void> {
    await this.request({ op: 'start' }, timeoutMs);
  }

  async stop(timeoutMs: number): Promise<EldWindow> {
    return this.request<{ ok: true } & EldWindow>({ op: 'stop' }, timeoutMs);
  }
}
