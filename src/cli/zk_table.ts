// The node table as a node would build it, read straight from ZooKeeper for the operator commands: each
// type's children are listed, read in listing order (the order a starting node applies them, which decides
// kimserver's first-insert-wins ring collisions), checked with parsePeerData and upserted into a Nodes table.
// Bad peer data is kept aside with its reason, as a node skips and counts it.
import { type PeerDataReason, parsePeerData } from '../discovery/peer.js';
import { Nodes } from '../nodes/table.js';
import { ZkError, ZNOAUTH, ZNONODE } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';

export interface BadPeer {
  path: string;
  type: string;
  reason: PeerDataReason;
  detail: string;
}

export class ZkTable {
  readonly nodes: Nodes;
  /** Bad peer data by path. */
  readonly bad = new Map<string, BadPeer>();

  /**
   * `watch`: every list and read also arms a ZooKeeper watch (and a missing folder an exists watch), for
   * `zkbio watch`; `onBad` hears of a path whose data turned bad, or bad for another reason.
   */
  constructor(
    private session: ZkSession,
    readonly root: string,
    private readonly maxNodeBytes: number,
    private readonly watch = false,
    private readonly onBad: (bad: BadPeer) => void = () => {},
  ) {
    this.nodes = new Nodes({ root });
  }

  /** Reads through another session from now on (a watch whose session expired); the table stays. */
  useSession(session: ZkSession): void {
    this.session = session;
  }

  /** The type folders under the root, sorted; none when the root does not exist (yet). */
  async types(): Promise<string[]> {
    return (await this.children(this.root)).sort();
  }

  /** Lists and reads one type, bringing the table and the bad list to what ZooKeeper holds now. */
  async readType(type: string): Promise<void> {
    const folder = `${this.root}/${type}`;
    const names = await this.children(folder);
    this.nodes.applyChildren(type, names);
    const present = new Set(names.map((n) => `${folder}/${n}`));
    for (const path of this.bad.keys())
      if (path.startsWith(`${folder}/`) && !present.has(path)) this.bad.delete(path);
    // Sent together (one session's requests are answered in order), applied in listing order.
    const reads = await Promise.all(
      names.map((n) => this.session.get(`${folder}/${n}`, this.watch).catch((err: unknown) => err)),
    );
    for (const [i, n] of names.entries()) this.apply(type, `${folder}/${n}`, reads[i]);
  }

  private apply(type: string, path: string, read: unknown): void {
    if (read instanceof ZkError && read.code === ZNONODE) {
      // Gone since it was listed; the next listing agrees.
      this.nodes.delZkNode(path);
      this.bad.delete(path);
      return;
    }
    if (read instanceof ZkError && read.code === ZNOAUTH) {
      this.markBad({
        path,
        type,
        reason: 'invalid',
        detail: 'the node is not readable (ZNOAUTH): its ACL denies us',
      });
      return;
    }
    if (read instanceof Error) throw read;
    const peer = parsePeerData(path, type, (read as { data: string }).data, this.maxNodeBytes);
    if (!peer.ok) {
      this.markBad({ path, type, reason: peer.reason, detail: peer.detail });
      return;
    }
    this.bad.delete(path);
    this.nodes.upsert(peer.node);
  }

  private markBad(bad: BadPeer): void {
    const before = this.bad.get(bad.path);
    this.bad.set(bad.path, bad);
    // A node whose data turned bad no longer serves, as in a node's table.
    this.nodes.delZkNode(bad.path);
    if (before?.reason !== bad.reason || before.detail !== bad.detail) this.onBad(bad);
  }

  private async children(path: string): Promise<string[]> {
    try {
      return (await this.session.getChildren(path, this.watch)).children;
    } catch (err) {
      if (!(err instanceof ZkError && err.code === ZNONODE)) throw err;
      // Watched: its creation fires a watch, and the caller reads it then.
      if (this.watch && (await this.session.exists(path, true)) !== null) return this.children(path);
      return [];
    }
  }
}
