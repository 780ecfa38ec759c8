/**
 * The subscriptions recipe, on the bio thread: it follows each subscribed type folder and turns ZooKeeper's
 * watch events into finished node changes for the ack stream, so the main thread only applies them.
 *
 * It keeps the children of every folder it follows. On a folder's child event it lists again (re-arming the
 * children watch), diffs against what it knows, and reads the added children with a data watch each, all the
 * reads of a step in flight at once; a child's data change is read again, a deletion dropped. Every read (the
 * session's get: a getData zkbio encodes and decodes itself, nzk-internals' readData) is parsed and checked
 * (discovery/peer.ts) and a good node goes out with its ring points (nodes/vnodes.ts) when they are new, so the
 * main side runs neither JSON.parse nor MD5.
 *
 * Watches. By default each folder has one persistent recursive watch (ZooKeeper 3.6+ addWatch, as Curator's
 * CuratorCache): a child created or changed is read, a child deleted dropped, and the folder's own creation
 * or deletion lists it, with no re-arming gap and no listing per join. A reconnect loses the watch, so every
 * resync (SUBSCRIBE, sent on every connect) adds it again before it lists. A server without addWatch answers
 * ZUNIMPLEMENTED, and the folder is followed with one-shot watches from then on: the children watch, re-armed
 * by each listing, and a data watch per child, re-armed by each read.
 * One difference: ZooKeeper sends a persistent watch no event for a node the client may not read, so an
 * unreadable peer (never served either way) is only seen, and counted as bad data, by the next resync.
 *
 * Order. The session reports watch events synchronously from the socket, between call results. They go
 * into one FIFO job queue here, and jobs run one at a time, so a change reaches the ack stream in the order
 * ZooKeeper reported it: data read before a node's deletion is emitted before its removal, never after it.
 * A pending job absorbs later events of the same kind for the same folder or node (one list, one read), and a
 * run of queued reads and deletions is pipelined as one step, its results emitted in queue order.
 *
 * Errors. A missing node on a read is a deletion. A node we may not read (ZNOAUTH) is bad data, like any
 * data that fails the check. Any other failure may have left a watch unarmed: a SUBSCRIBE waiting on the
 * job gets the error in its ack; otherwise EV_SUB_FAILED tells the main side to resync with backoff.
 * A child is only known once read, so a child whose read failed is read again by the next listing.
 */
import { parsePeerData, stillRegistering } from '../discovery/peer.js';
import type { ZkNode } from '../nodes/validate.js';
import { memberId, vnodePointCount, vnodePointsInto } from '../nodes/vnodes.js';
import { type BioRecord, newRecord } from '../ring/codec.js';
import { Cmd } from './commands.js';
import { ZCLOSING, ZkError, ZNOAUTH, ZNONODE, ZUNIMPLEMENTED, zkErrorCode } from './errors.js';
import { nodeSetRecord } from './node-change.js';
import type { ZkSession, ZkWatchKind } from './session.js';

/** The calls the recipe makes. */
export type SubscriptionSession = Pick<ZkSession, 'get' | 'getChildren' | 'exists' | 'addPersistentWatch'>;

export interface SubscriptionsOptions {
  /** The live session; throws when there is none. */
  session: () => SubscriptionSession;
  /** Writes a change into the ack stream, in order. */
  emit: (record: BioRecord) => void;
  isStopping: () => boolean;
  /** Points per ring member, the table's. */
  vnodeCount: number;
  /** Peer data larger than this is bad data. */
  maxNodeBytes: number;
  /** Ring points larger than this stay off the record (the table computes them): the record must fit the ack ring. */
  maxPointBytes: number;
  /** Follow folders with one persistent recursive watch each (ZooKeeper 3.6+), one-shot watches as the fallback. */
  persistentWatches: boolean;
}

/** A folder deleted and created again this often while being listed fails the listing (and it is retried). */
const MAX_LIST_ATTEMPTS = 5;
const NO_POINTS = new Uint32Array(0);
/** Reads in flight at most in a listing or a step (see pipelined()). */
export const READ_WINDOW = 512;
/** Reads in flight before any reply says how large the replies are. */
const READ_WINDOW_FIRST = 16;
/** Reply bytes in flight that the window aims at, by the recent replies' size. */
export const READ_WINDOW_BYTES = 1 << 20;
/** What a reply holds besides its data: its stat, its promise and result objects. */
const REPLY_OVERHEAD_BYTES = 256;
/** The recent replies' size is a moving average that gives each new reply this share (1/16). */
const REPLY_SIZE_SHARE = 1 / 16;

interface Child {
  /** The mzxid of the data last reported: reading the same again reports nothing. */
  mzxid: string;
  /** host:port/worker_cnt of the last good data, '' while bad: points go out only when this changes. */
  ringKey: string;
}

interface Folder {
  path: string;
  type: string;
  children: Map<string, Child>;
  /**
   * 'persistent' while a persistent recursive watch follows it (added again on every resync: a reconnect loses
   * it), 'one-shot' when the server has no addWatch or it is off.
   */
  watch: 'persistent' | 'one-shot';
}

interface Waiter {
  resolve: (names: string[]) => void;
  reject: (err: unknown) => void;
}

type ListJob = { kind: 'list'; folder: Folder; full: boolean; waiters: Waiter[] };
type NodeJob = { kind: 'read' | 'del'; folder: Folder; name: string };
type Job = ListJob | NodeJob;
type ReadResult = { data: string; stat: { mzxid: string; version: number } } | { err: unknown };

export class Subscriptions {
  readonly #opts: SubscriptionsOptions;
  readonly #folders = new Map<string, Folder>();
  #queue: Job[] = [];
  #head = 0;
  /** Jobs queued and not started, by folder (lists) and by node path (reads): later events join them. */
  readonly #pendingLists = new Map<Folder, ListJob>();
  readonly #pendingReads = new Map<string, NodeJob>();
  #running = false;

  constructor(opts: SubscriptionsOptions) {
    this.#opts = opts;
  }

  /**
   * Follows `folder` (of node type `type`) from now on and resyncs it: lists it, reads every child, and emits
   * what changed against what this thread knew. Resolves with the names listed, after their changes.
   */
  subscribe(type: string, folder: string): Promise<string[]> {
    let f = this.#folders.get(folder);
    if (f === undefined) {
      const watch = this.#opts.persistentWatches ? 'persistent' : 'one-shot';
      f = { path: folder, type, children: new Map(), watch };
      this.#folders.set(folder, f);
    }
    const target = f;
    return new Promise((resolve, reject) => this.#enqueueList(target, true, { resolve, reject }));
  }

  /**
   * Takes a one-shot watch event that concerns a followed folder or one of its children; false: not ours.
   * A folder that a persistent watch follows takes its events from that watch instead.
   */
  onWatch(kind: ZkWatchKind, path: string): boolean {
    const folder = this.#folders.get(path);
    if (folder !== undefined) {
      // A data change of a type folder itself is no node's data (kimserver's defect 8).
      if (kind !== 'dataChanged' && folder.watch === 'one-shot') this.#enqueueList(folder, false, null);
      return true;
    }
    const cut = path.lastIndexOf('/');
    const parent = this.#folders.get(path.slice(0, cut));
    if (parent === undefined || (kind !== 'dataChanged' && kind !== 'deleted')) return false;
    if (parent.watch === 'one-shot') this.#onChild(parent, kind, path.slice(cut + 1));
    return true;
  }

  /**
   * An event of a folder's persistent recursive watch: the folder created or deleted (list it), a child
   * created or changed (read it) or deleted; nodes further down are no peers.
   */
  #onPersistent(folder: Folder, kind: ZkWatchKind, path: string): void {
    if (path === folder.path) {
      if (kind === 'created' || kind === 'deleted') this.#enqueueList(folder, false, null);
      return;
    }
    const name = path.slice(folder.path.length + 1);
    if (!name.includes('/')) this.#onChild(folder, kind === 'created' ? 'dataChanged' : kind, name);
  }

  /** A child changed (read it) or was deleted (drop it), in the queue's order. */
  #onChild(folder: Folder, kind: ZkWatchKind, name: string): void {
    if (kind === 'deleted') {
      // With no job queued or running, no result can come before it: it goes out now, in the socket's read,
      // not a turn later (measured: the rest of the read and its ticks took ~100 µs here).
      if (this.#running || this.#head < this.#queue.length) this.#push({ kind: 'del', folder, name });
      else this.#drop(folder, name);
      return;
    }
    const path = `${folder.path}/${name}`;
    if (kind !== 'dataChanged' || this.#pendingReads.has(path)) return;
    const job: NodeJob = { kind: 'read', folder, name };
    this.#pendingReads.set(path, job);
    this.#push(job);
  }

  /** Drops every queued job; a SUBSCRIBE still waiting fails with ZCLOSING. */
  close(): void {
    this.#abort(new ZkError(ZCLOSING, 'the bio thread is stopping'));
  }

  #enqueueList(folder: Folder, full: boolean, waiter: Waiter | null): void {
    const pending = this.#pendingLists.get(folder);
    if (pending !== undefined) {
      pending.full ||= full;
      if (waiter) pending.waiters.push(waiter);
      return;
    }
    const job: ListJob = { kind: 'list', folder, full, waiters: waiter ? [waiter] : [] };
    this.#pendingLists.set(folder, job);
    this.#push(job);
  }

  #push(job: Job): void {
    this.#queue.push(job);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#head < this.#queue.length) {
        if (this.#opts.isStopping()) {
          this.close();
          return;
        }
        const job = this.#queue[this.#head];
        if (job.kind === 'list') {
          this.#head++;
          this.#pendingLists.delete(job.folder);
          await this.#list(job);
        } else await this.#nodeStep();
      }
      this.#queue = [];
      this.#head = 0;
    } finally {
      this.#running = false;
    }
  }

  #abort(err: ZkError): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const job = this.#queue[i];
      if (job.kind === 'list') for (const w of job.waiters) w.reject(err);
    }
    this.#queue = [];
    this.#head = 0;
    this.#pendingLists.clear();
    this.#pendingReads.clear();
  }

  /** One listing: the diff, then the reads of the children it needs (every one on a resync). */
  async #list(job: ListJob): Promise<void> {
    const { folder } = job;
    let failure: unknown = null;
    let names: string[] = [];
    try {
      const s = this.#opts.session();
      // The watch goes first, so that nothing that happens after the listing is missed.
      if (job.full && folder.watch === 'persistent') await this.#watch(s, folder);
      const oneShot = folder.watch === 'one-shot';
      names = await listFolder(s, folder.path, oneShot);
      const listed = new Set(names);
      for (const name of folder.children.keys()) if (!listed.has(name)) this.#drop(folder, name);
      const toRead = job.full ? names : names.filter((n) => !folder.children.has(n));
      await pipelined(
        toRead,
        (name) => read(s, `${folder.path}/${name}`, oneShot),
        (name, r) => {
          failure ??= this.#onRead(folder, name, r);
        },
      );
    } catch (err) {
      failure = err;
    }
    if (job.waiters.length === 0) {
      if (failure !== null) this.#failed(folder, failure);
    } else for (const w of job.waiters) failure === null ? w.resolve(names) : w.reject(failure);
  }

  /** Adds the folder's persistent watch; a server without addWatch (before 3.6) moves it to one-shot watches. */
  async #watch(s: SubscriptionSession, folder: Folder): Promise<void> {
    try {
      await s.addPersistentWatch(folder.path, (kind, path) => this.#onPersistent(folder, kind, path));
    } catch (err) {
      if (zkErrorCode(err).code !== ZUNIMPLEMENTED) throw err;
      folder.watch = 'one-shot';
    }
  }

  /**
   * The run of read and delete jobs at the head of the queue: reads pipelined (a deletion waits for the reads
   * before it), results in order.
   */
  async #nodeStep(): Promise<void> {
    const step: NodeJob[] = [];
    while (this.#head < this.#queue.length && this.#queue[this.#head].kind !== 'list') {
      const job = this.#queue[this.#head++] as NodeJob;
      if (job.kind === 'read') this.#pendingReads.delete(`${job.folder.path}/${job.name}`);
      step.push(job);
    }
    let s: SubscriptionSession | null = null;
    const failed = new Map<Folder, unknown>();
    await pipelined(
      step,
      (job): Promise<ReadResult | null> => {
        if (job.kind === 'del') return Promise.resolve(null);
        try {
          s ??= this.#opts.session();
          return read(s, `${job.folder.path}/${job.name}`, job.folder.watch === 'one-shot');
        } catch (err) {
          return Promise.resolve({ err }); // no session: a failure like any other
        }
      },
      (job, r) => {
        if (r === null) {
          this.#drop(job.folder, job.name);
          return;
        }
        const failure = this.#onRead(job.folder, job.name, r);
        if (failure !== null && !failed.has(job.folder)) failed.set(job.folder, failure);
      },
    );
    for (const [folder, err] of failed) this.#failed(folder, err);
  }

  /** Reports one read; returns the error when it was neither data nor a refusal that reading again cannot fix. */
  #onRead(folder: Folder, name: string, r: ReadResult): unknown {
    const path = `${folder.path}/${name}`;
    if ('err' in r) {
      const { code } = zkErrorCode(r.err);
      if (code === ZNONODE) this.#drop(folder, name);
      else if (code === ZNOAUTH)
        this.#bad(folder, name, '', 'invalid', 'the node is not readable (ZNOAUTH): its ACL denies us');
      else return r.err;
      return null;
    }
    const known = folder.children.get(name);
    if (known?.mzxid === r.stat.mzxid) return null; // reported already: a resync that found no change
    if (stillRegistering(r.data, r.stat.version)) {
      folder.children.set(name, { mzxid: r.stat.mzxid, ringKey: '' });
      return null;
    }
    const peer = parsePeerData(path, folder.type, r.data, this.#opts.maxNodeBytes);
    if (!peer.ok) {
      this.#bad(folder, name, r.stat.mzxid, peer.reason, peer.detail);
      return null;
    }
    const node = peer.node;
    const ringKey = `${node.host}:${node.port}/${node.worker_cnt}`;
    folder.children.set(name, { mzxid: r.stat.mzxid, ringKey });
    // Same ring data as last reported: the table keeps its points and needs none.
    this.#opts.emit(nodeSetRecord(node, known?.ringKey === ringKey ? NO_POINTS : this.#points(node)));
    return null;
  }

  /** Every member's points, worker 1 first; none when they would make the record too large. */
  #points(node: ZkNode): Uint32Array {
    const { vnodeCount, maxPointBytes } = this.#opts;
    const each = vnodePointCount(vnodeCount);
    if (node.worker_cnt * each * 4 > maxPointBytes) return NO_POINTS;
    const out = new Uint32Array(node.worker_cnt * each);
    for (let i = 1; i <= node.worker_cnt; i++)
      vnodePointsInto(memberId(node.host, node.port, i), vnodeCount, out, (i - 1) * each);
    return out;
  }

  #bad(folder: Folder, name: string, mzxid: string, reason: string, detail: string): void {
    folder.children.set(name, { mzxid, ringKey: '' });
    const r = newRecord(Cmd.EV_NODE_BAD, `${folder.path}/${name}`);
    r.errName = reason;
    r.result = detail;
    this.#opts.emit(r);
  }

  #drop(folder: Folder, name: string): void {
    if (folder.children.delete(name)) this.#opts.emit(newRecord(Cmd.EV_NODE_DEL, `${folder.path}/${name}`));
  }

  #failed(folder: Folder, err: unknown): void {
    const { code, name } = zkErrorCode(err);
    const r = newRecord(Cmd.EV_SUB_FAILED, folder.path);
    r.error = code;
    r.errName = name;
    r.result = err instanceof Error ? err.message : String(err);
    this.#opts.emit(r);
  }
}

/**
 * Starts the read `start(item)` for each item, a window of them in flight, and hands each result to `each` in item
 * order (null: a job with no read). The window is READ_WINDOW_BYTES over the recent replies' size (a moving average
 * of their data and the overhead), at least 1 and at most READ_WINDOW; before any reply it assumes READ_WINDOW_FIRST
 * of them make the bytes.
 * - Deep, because a resync is a stream of small reads: while the bio thread parses one chunk of replies, the
 *   server must still have reads queued, or it idles. A resync of 5,000 peers in-process took a median of 503 ms
 *   with 128 in flight, 403 with 512 and 362 with 2,048 (6 runs each, alternating). 512 keeps this client's share
 *   of ZooKeeper's globalOutstandingLimit (1,000 requests for all clients, over which it throttles them all) at half.
 *   Small replies widen the window to 512 within about 60 of them.
 * - Bounded by bytes, because a reply's data can be up to ZooKeeper's 1 MB and replies wait here until `each`
 *   takes them: a resync with every read in flight at once grew the bio thread's heap past 60 MB. A moving
 *   average, not the run's mean, so that large replies after thousands of small ones narrow the window at once
 *   (to 16 at the first 1 MB one), and one large reply among small ones narrows it only for a while. Reads
 *   already sent cannot be taken back: a run of large replies right after small ones can still find up to
 *   READ_WINDOW in flight.
 */
async function pipelined<T, R extends ReadResult | null>(
  items: readonly T[],
  start: (item: T) => Promise<R>,
  each: (item: T, result: R) => void,
): Promise<void> {
  const inFlight: Promise<R>[] = [];
  let started = 0;
  let window = READ_WINDOW_FIRST;
  let replyBytes = READ_WINDOW_BYTES / READ_WINDOW_FIRST;
  for (let i = 0; i < items.length; i++) {
    while (started < items.length && started < i + window) inFlight.push(start(items[started++]));
    const result = await (inFlight.shift() as Promise<R>);
    replyBytes += (REPLY_OVERHEAD_BYTES + readBytes(result) - replyBytes) * REPLY_SIZE_SHARE;
    window = Math.max(1, Math.min(READ_WINDOW, Math.floor(READ_WINDOW_BYTES / replyBytes)));
    each(items[i], result);
  }
}

/** A read's data bytes (UTF-16 units: the same for ASCII, the window's estimate otherwise); 0 for a failure. */
const readBytes = (r: ReadResult | null): number => (r !== null && 'data' in r ? r.data.length : 0);

function read(s: SubscriptionSession, path: string, watch: boolean): Promise<ReadResult> {
  return s.get(path, watch).then(
    (r) => r,
    (err: unknown) => ({ err }),
  );
}

/**
 * The folder's children, with a children watch; a folder that does not exist has none, and gets an exists
 * watch so that its creation is seen (kimserver never saw it). A folder deleted and created again between the
 * two calls is listed again; one that keeps doing so fails, so it is never reported empty and unwatched.
 */
async function listFolder(s: SubscriptionSession, path: string, watch: boolean): Promise<string[]> {
  for (let attempt = 0; attempt < MAX_LIST_ATTEMPTS; attempt++) {
    try {
      return (await s.getChildren(path, watch)).children;
    } catch (err) {
      if (zkErrorCode(err).code !== ZNONODE) throw err;
      if ((await s.exists(path, watch)) === null) return [];
    }
  }
  throw new ZkError(
    ZNONODE,
    `${path} was deleted and created again ${MAX_LIST_ATTEMPTS} times while it was listed`,
    path,
  );
}
