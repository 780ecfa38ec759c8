/** The parent's handle on the forked peers process of bench/discovery (discovery-peers.ts). */
import type { PeerCommand } from './discovery-peers.js';
import { IpcChild } from './ipc-child.js';

const SCRIPT = new URL('./discovery-peers.js', import.meta.url);

export class PeerFleet extends IpcChild<PeerCommand> {
  constructor() {
    super(SCRIPT);
  }

  /** Sends one command; resolves with the peers' completion times when the command reports them. */
  async send(cmd: PeerCommand, timeoutMs: number): Promise<[string, number][]> {
    const reply = await this.request<{ ok: true; times?: [string, number][] }>(cmd, timeoutMs);
    return reply.times ?? [];
  }
}
