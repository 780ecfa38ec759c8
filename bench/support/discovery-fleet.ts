/**
 * The parent's handle on the forked peers process (discovery-peers.ts): one command at a time, each reply
 * awaited with a bound, and close() that leaves no child behind (SIGKILL if it does not exit on its own).
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { PeerCommand, PeerReply } from './discovery-peers.js';

const SCRIPT = new URL('./discovery-peers.js', import.meta.url);
const EXIT_WAIT_MS = 2000;

export class PeerFleet {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor() {
    this.child = fork(SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Sends one command and waits at most `timeoutMs` for its reply. */
  async send(cmd: PeerCommand, timeoutMs: number): Promise<[string, number][]> {
    let timer: NodeJS.Timeout | undefined;
    let onMessage: ((reply: PeerReply) => void) | undefined;
    let onExit: (() => void) | undefined;
    try {
      const reply = await new Promise<PeerReply>((resolve, reject) => {
        onMessage = resolve;
        onExit = () => reject(new Error(`the peers process exited during ${cmd.op}`));
        timer = setTimeout(() => reject(new Error(`peers: ${cmd.op} took over ${timeoutMs} ms`)), timeoutMs);
        this.child.once('message', onMessage);
        this.child.once('exit', onExit);
        this.child.send(cmd);
      });
      if (!reply.ok) throw new Error(`peers: ${cmd.op} failed: ${reply.error}`);
      return reply.times ?? [];
    } finally {
      clearTimeout(timer);
      if (onMessage) this.child.off('message', onMessage);
      if (onExit) this.child.off('exit', onExit);
    }
  }

  /** Disconnecting tells the child to close its sessions and exit; a child that hangs is killed. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), EXIT_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!gone) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
