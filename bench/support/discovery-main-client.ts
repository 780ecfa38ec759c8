/**
 * The obvious alternative to zkbio, for bench/discovery: plain node-zookeeper-client on the main thread,
 * watching one node type. Every children event lists the folder again with a watch and diffs the names against
 * the previous listing: the new children are read with a data watch, all reads fired at once, and upserted;
 * the gone ones are dropped; a data change is read again with a watch and upserted. It feeds the same Nodes table and emits the same added / removed /
 * changed events as ZkClient, so the bench measures both the same way.
 */
import { EventEmitter } from 'node:events';
import zookeeper, { type Client, type Event } from 'node-zookeeper-client';
import { parsePeerData } from '../../src/discovery/peer.js';
import { Nodes } from '../../src/nodes/table.js';
import type { ZkNode } from '../../src/nodes/validate.js';

export interface DiscoveryEvents {
  added: [node: ZkNode];
  removed: [node: ZkNode];
  changed: [change: { old: ZkNode; new: ZkNode }];
}

const MAX_NODE_BYTES = 64 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

export class MainThreadClient extends EventEmitter<DiscoveryEvents> {
  readonly nodes: Nodes;
  private readonly client: Client;
  private readonly folder: string;
  /** Child names of the last listing; null before the first. */
  private children: Set<string> | null = null;

  constructor(
    connectString: string,
    root: string,
    private readonly type: string,
  ) {
    super();
    this.nodes = new Nodes({ root });
    this.folder = `${root}/${type}`;
    this.client = zookeeper.createClient(connectString, { sessionTimeout: 4000, retries: 0 });
    this.nodes.on('change', (change) => {
      for (const node of change.removed) this.emit('removed', node);
      for (const node of change.added) this.emit('added', node);
      for (const c of change.changed) this.emit('changed', c);
    });
  }

  /** Connects and lists the folder (which must exist) once; bounded. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('main-thread client: no session')), CONNECT_TIMEOUT_MS);
      this.client.once('connected', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.connect();
    });
    this.list();
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    while (this.children === null) {
      if (Date.now() > deadline) throw new Error('main-thread client: the first listing did not come');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  stop(): void {
    this.client.close();
  }

  private list(): void {
    this.client.getChildren(
      this.folder,
      (event: Event) => {
        if (event.getName() === 'NODE_CHILDREN_CHANGED') this.list();
      },
      (err, names) => {
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
    this.client.getData(
      path,
      (event: Event) => {
        if (event.getName() === 'NODE_DATA_CHANGED') this.read(path);
        else if (event.getName() === 'NODE_DELETED') this.nodes.delZkNode(path);
      },
      (err, data) => {
        if (err) {
          if ((err as { code?: number }).code === zookeeper.Exception.NO_NODE) this.nodes.delZkNode(path);
          else throw err;
          return;
        }
        const peer = parsePeerData(path, this.type, data ? data.toString('utf8') : '', MAX_NODE_BYTES);
        if (peer.ok) this.nodes.upsert(peer.node);
      },
    );
  }
}
