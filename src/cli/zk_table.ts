// The node table as a node would build it, read straight from ZooKeeper for the operator commands: each
// type's children are listed, read in listing order (the order a starting node applies them, which decides
// kimserver's first-insert-wins ring collisions), checked with parsePeerData and upserted into a Nodes table.
// Bad peer data is kept aside with its reason (BadPeers, as a node keeps it), and a node still registering
// (created empty, its JSON not yet set) is neither in the table nor bad, as in a node.
import { type BadPeer, BadPeers } from '../discovery/bad_peers.js';
import { parsePeerData, stillRegistering } from '../discovery/peer.js';
import { Nodes } from '../nodes/table.js';
import { ZkError, ZNOAUTH, ZNONODE } from '../zk/errors.js';
import type { ZkSession, ZkStat } from '../zk/session.js';

export class ZkTable {
  readonly nodes: Nodes;
  readonly bad = new BadPeers();
  /** Paths of nodes created empty whose JSON is not set yet. */
  readonly registering = new Set<string>();

  /**
   * `watch`: every list and read also arms a ZooKeeper watch (and a missing folder an exists watch), for
   * `zkbio watch`; `onBad` hears of a path whose data turned bad (again, if it was good in between).
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
    this.bad.forgetGone(folder, names);
    for (const path of this.registering) if (path.startsWith(`${folder}/`)) this.registering.delete(path);
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
      this.bad.forget(path);
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
    const { data, stat } = read as { data: string; stat: ZkStat };
    if (stillRegistering(data, stat.version)) {
      this.registering.add(path);
      this.bad.forget(path);
      this.nodes.delZkNode(path);
      return;
    }
    const peer = parsePeerData(path, type, data, this.maxNodeBytes);
    if (!peer.ok) {
      this.markBad({ path, type, reason: peer.reason, detail: peer.detail });
      return;
    }
    this.bad.forget(path);
    this.nodes.upsert(peer.node);
  }

  private markBad({ path, type, reason, detail }: Omit<BadPeer, 'since'>): void {
    const first = this.bad.note(path, type, reason, detail);
    // A node whose data turned bad no longer serves, as in a node's table.
    this.nodes.delZkNode(path);
    if (first) this.onBad(this.bad.get(path) as BadPeer);
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
