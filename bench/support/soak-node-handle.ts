/** The soak driver's handle on the node under test (soak-node.ts), a forked process it can freeze. */
import { IpcChild } from './ipc-child.js';
import type { NodeCommand, NodeSnapshot } from './soak-node.js';

const SCRIPT = new URL('./soak-node.js', import.meta.url);
const COMMAND_MS = 30_000;

export class SoakNode extends IpcChild<NodeCommand> {
  constructor() {
    // --expose-gc: heap figures are taken after a full collection, so they show what is retained.
    super(SCRIPT, ['--expose-gc']);
  }

  async start(config: Record<string, unknown>, readyMs: number): Promise<void> {
    await this.request({ op: 'start', config, readyMs }, readyMs + COMMAND_MS);
  }

  snapshot(gc = false): Promise<NodeSnapshot> {
    return this.request<NodeSnapshot>({ op: 'snapshot', gc }, COMMAND_MS);
  }

  async stop(): Promise<void> {
    await this.request({ op: 'stop' }, COMMAND_MS);
  }

  /** SIGSTOP: the whole process, bio thread included, stops answering ZooKeeper's pings. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.child.kill('SIGCONT');
  }
}
