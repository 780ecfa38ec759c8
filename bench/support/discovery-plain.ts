/**
 * The obvious way to discover peers without zkbio, for bench/discovery's other clients: one ZooKeeper client
 * library used directly on the main thread, watching one node type. Every children event lists the folder again
 * with a watch and diffs the names against the previous listing: the new children are read with a data watch,
 * all reads fired at once, and upserted; the gone ones are dropped; a data change is read again with a watch and
 * upserted. It feeds the same Nodes table and emits the same added / removed / changed events as ZkClient, so
 * the bench measures every client the same way. The library sits behind `Transport`: node-zookeeper-client
 * (discovery-main-client.ts) or the native C binding (discovery-native.ts).
 */
import { EventEmitter } from 'node:events';
import { parsePeerData } from '../../src/discovery/peer.js';
import { Nodes } from '../../src/nodes/table.js';
import type { ZkNode } from '../../src/nodes/validate.js';

export interface DiscoveryEvents {
  added: [node: ZkNode];
  removed: [node: ZkNode];
  changed: [change: { old: ZkNode; new: ZkNode }];
}

/** The calls PlainWatcher makes; watches are one-shot, as in both libraries. */
export interface Transport {
  /** Opens the session; rejects after `timeoutMs` without one. */
  connect(timeoutMs: number): Promise<void>;
  close(): void;
  /** Lists `folder` with a child watch: `onChange` runs once, at the next change of its children. */
  children(folder: string, onChange: () => void, done: (err: unknown, names: string[]) => void): void;
  /**
   * Reads `path` with a data watch: `onEvent` runs once, at its next change or deletion. `data` is null when the
   * node is gone.
   */
  data(
    path: string,
    onEvent: (event: 'changed' | 'deleted') => void,
    done: (err: unknown, data: string | null) => void,
  ): void;
}

const MAX_NODE_BYTES = 64 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

export class PlainWatcher extends EventEmitter<DiscoveryEvents> {
  readonly nodes: Nodes;
  private readonly folder: string;
  /** Child names of the last listing; null before the first. */
  private children: Set<string> | null = null;
  /** After stop(), the library fails the calls still pending ("closing"): not the bench's failure. */
  private stopped = false;

  constructor(
    private readonly zk: Transport,
    root: string,
    private readonly type: string,
  ) {
    super();
    this.nodes = new Nodes({ root });
    this.folder = `${root}/${type}`;
    this.nodes.on('change', (change) => {
      for (const node of change.removed) this.emit('removed', node);
      for (const node of change.added) this.emit('added', node);
      for (const c of change.changed) this.emit('changed', c);
    });
  }

  /** Connects and lists the folder (which must exist) once; bounded. */
  async start(): Promise<void> {
    await this.zk.connect(CONNECT_TIMEOUT_MS);
    this.list();
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    while (this.children === null) {
      if (Date.now() > deadline) throw new Error('plain client: the first listing did not come');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  stop(): void {
    this.stopped = true;
    this.zk.close();
  }

  private list(): void {
    if (this.stopped) return;
    this.zk.children(
      this.folder,
      () => this.list(),
      (err, names) => {
        if (this.stopped) return;
        if (err) throw err; // a bench on loopback: any failure is a broken run, not something to survive
        const previous = this.children ?? new Set<string>();
        this.children = new Set(names);
        for (const name of previous)
          if (!this.children.has(name)) this.nodes.delZkNode(`${this.folder}/${name}`);
        for (const name of names) if (!previous.has(name)) this.read(`${this.folder}/${name}`);
      },
    );
  }

  private read(path: string): void {
    this.zk.data(
      path,
      (event) => {
        if (this.stopped) return;
        if (event === 'changed') this.read(path);
        else this.nodes.delZkNode(path);
      },
      (err, data) => {
        if (this.stopped) return;
        if (err) throw err;
        if (data === null) {
          this.nodes.delZkNode(path);
          return;
        }
        const peer = parsePeerData(path, this.type, data, MAX_NODE_BYTES);
        if (peer.ok) this.nodes.upsert(peer.node);
      },
    );
  }
}
