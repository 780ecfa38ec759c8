/**
 * The node table: every registration znode of the subscribed types, and one ketama ring per type
 * that answers "which worker of which server handles key K of type T" exactly as kimserver does.
 *
 * **Entries and serving nodes.** The table is keyed by znode path. Paths that advertise the same
 * host:port (a server restarted before its old ephemeral node expired, say) are one server: the
 * entry with the newest `active_time` serves (on a tie, the greater path, i.e. the later sequential
 * znode) and the others are kept, shadowed. When the serving path is deleted the next one serves again.
 * Only serving nodes have ring members: `host:port.i` for i in 1..worker_cnt.
 *
 * **Change reporting.** Every mutating call returns a {@link NodesChange} and, when it is not empty,
 * also emits it as the `'change'` event. It describes the serving view:
 * - `added`: nodes that now serve and did not before;
 * - `removed`: nodes that served and no longer do (deleted, or shadowed by a newer path);
 * - `changed`: `{ old, new }` for a path that serves before and after with different data.
 * A node whose ring data (type, host, port, worker_cnt) changes gets exactly its own members replaced;
 * an `active_time`-only change, or a newer path taking over an identical server, leaves the ring alone.
 * A listener that throws never aborts an update: the error goes to `onListenerError` (default: logged)
 * and is counted in `listenerErrors`, and the other listeners still run.
 *
 * **Version.** `version` goes up by one on every change to the stored entries, shadowed ones included
 * (they are part of what a snapshot carries), and never on a no-op. It never goes back: `clear()`
 * bumps it, `restore()` takes the snapshot's version only when that is higher, and
 * `advanceVersion(v)` lets a replica follow its primary's numbering (kimserver defect 5).
 *
 * **Steps.** Every version increment is also emitted, in order, as one `'step'` event (see
 * {@link NodesStep}), so a replica can replay the primary's writes themselves rather than the
 * serving-view diff, which loses shadowed entries and the order members joined the rings.
 * `advanceVersion()` emits nothing: it is how a replica follows, not a change.
 *
 * **Children diffs.** `applyChildren(type, names)` takes the child *names* of `{root}/{type}` as
 * ZooKeeper's getChildren returns them (`root` is a constructor option, kimserver's default
 * "/kimserver/nodes"). It deletes entries under that folder whose name is gone and returns full
 * paths: `removed` (deleted now) and `added` (not in the table; the caller reads their data and
 * calls addZkNode). Children whose data was refused stay "added" on every diff, so they are re-read.
 *
 * **Snapshots.** `snapshot()` is plain JSON (see snapshot.ts), listing serving nodes in ring insertion
 * order so a replica reproduces kimserver's first-insert-wins collisions exactly, then shadowed nodes
 * by path, so two tables with the same content give equal snapshots; `restore()` rebuilds
 * every ring in one sort and reports the difference to the previous content as a change.
 */

import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { emitEach } from '../listeners.js';
import { createLogger } from '../log.js';
import type { HashAlg } from './hash.js';
import { fnv1a64String, fnv164String, HASH_ALGS, hashKey, murmur3_32String } from './hash.js';
import { Members } from './members.js';
import type { NodesSnapshot } from './snapshot.js';
import { parseSnapshot, SNAPSHOT_FORMAT, toRow } from './snapshot.js';
import type { ZkNode } from './validate.js';
import { sameZkNode, validateZkNode } from './validate.js';
import { memberId, vnodePointCount, vnodePointsInto } from './vnodes.js';

export interface NodesOptions {
  /** Points per ring member (kimserver: 200). */
  vnodeCount?: number;
  /** Key hash (kimserver's default: fnv1a_64). */
  hash?: HashAlg;
  /** Parent of the per-type folders, for applyChildren (kimserver: "/kimserver/nodes"). */
  root?: string;
  /**
   * Called with the error when a 'change' or 'step' listener throws. The update it was told about is
   * complete either way, and the other listeners still run. Default: log it (pino, level error).
   */
  onListenerError?: (err: unknown, event: 'change' | 'step') => void;
}

/** A lookup answer: one ring member, i.e. one worker process of one server. */
export interface HashNode {
  /** "host:port.workerIndex", the member id kimserver hashes. */
  readonly id: string;
  readonly type: string;
  readonly host: string;
  readonly port: number;
  /** 1..worker_cnt */
  readonly workerIndex: number;
}

export interface NodesChange {
  /** The table version after the call. */
  version: number;
  added: ZkNode[];
  removed: ZkNode[];
  changed: { old: ZkNode; new: ZkNode }[];
}

/**
 * One version increment. Replaying `set` as upsert and `del` as remove, in order, on a table that
 * held the same content rebuilds the same entries, rings and ring insertion order, hence the same
 * collision winners. `reset` (clear, restore) replaced the content wholesale: a copy needs a snapshot.
 */
export type NodesStep =
  | { op: 'set'; version: number; node: ZkNode }
  | { op: 'del'; version: number; path: string }
  | { op: 'reset'; version: number };

export type UpsertResult = { ok: true; change: NodesChange } | { ok: false; reason: string };

export interface ChildrenDiff {
  /** Full paths of children the table does not hold: read their data, then addZkNode. */
  added: string[];
  /** Full paths of entries deleted because their child is gone. */
  removed: string[];
  change: NodesChange;
}

/** All paths advertising one host:port, and the one that serves. */
interface Server {
  /** Usually one: an array costs a fraction of a Set. Made as a literal: a push onto [] reserves 17 elements. */
  paths: string[];
  serving: ZkNode | undefined;
  /** Ring member slots of the serving node, in its type's Members; made at its length (see paths). */
  slots: number[];
  /** When the serving node's members were inserted; orders snapshots (and so collisions). */
  seq: number;
}

const serverKey = (n: ZkNode): string => `${n.host}:${n.port}`;

/** list with x appended; an empty list becomes [x]: a push onto [] reserves 17 elements, and most changes hold one. */
function append<T>(list: T[], x: T): T[] {
  if (list.length === 0) return [x];
  list.push(x);
  return list;
}

let listenerLog: Logger | undefined;
function logListenerError(err: unknown, event: 'change' | 'step'): void {
  listenerLog ??= createLogger({ level: 'error' });
  listenerLog.error({ err, event }, 'a Nodes listener threw; the table update is complete');
}

const sameRingData = (a: ZkNode, b: ZkNode): boolean =>
  a.type === b.type && a.host === b.host && a.port === b.port && a.worker_cnt === b.worker_cnt;

/** Newest active_time serves; a tie goes to the greater path (the later sequential znode). */
const beats = (a: ZkNode, b: ZkNode): boolean =>
  a.active_time > b.active_time || (a.active_time === b.active_time && a.path > b.path);

export class Nodes extends EventEmitter<{ change: [NodesChange]; step: [NodesStep] }> {
  readonly vnodeCount: number;
  readonly hash: HashAlg;
  readonly root: string;
  /** Why the last refused addZkNode/upsert was refused; undefined after a success. */
  lastRefusal: string | undefined;
  /** Listener calls that threw, since construction. */
  listenerErrors = 0;

  #version = 0;
  #seq = 0;
  readonly #entries = new Map<string, ZkNode>();
  readonly #servers = new Map<string, Server>();
  /** Each type's ring members (and ring); a type goes when its last member does. */
  readonly #types = new Map<string, Members>();
  readonly #hashString: (s: string) => number;
  readonly #onListenerError: (err: unknown, event: 'change' | 'step') => void;

  constructor(opts: NodesOptions = {}) {
    super();
    const vnodeCount = opts.vnodeCount ?? 200;
    if (!Number.isInteger(vnodeCount) || vnodeCount < 4 || vnodeCount > 100_000) {
      throw new RangeError('vnodeCount must be an integer from 4 to 100000');
    }
    const hash = opts.hash ?? 'fnv1a_64';
    if (!HASH_ALGS.includes(hash)) throw new RangeError(`hash must be one of ${HASH_ALGS.join(', ')}`);
    this.vnodeCount = vnodeCount;
    this.hash = hash;
    this.root = (opts.root ?? '/kimserver/nodes').replace(/\/+$/, '');
    this.#hashString =
      hash === 'fnv1a_64' ? fnv1a64String : hash === 'fnv1_64' ? fnv164String : murmur3_32String;
    this.#onListenerError = opts.onListenerError ?? logListenerError;
  }

  get version(): number {
    return this.#version;
  }

  /** Number of entries (serving and shadowed). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Upsert; false (with `lastRefusal` set) when the record, or the precomputed points, are invalid.
   * See {@link upsert} for `memberPoints`.
   */
  addZkNode(node: unknown, memberPoints?: readonly Uint32Array[]): boolean {
    return this.upsert(node, memberPoints).ok;
  }

  /**
   * Upsert, returning the refusal reason or what changed.
   *
   * `memberPoints` lets a caller that already ran the MD5s (the bio thread, a cluster primary) hand
   * them over: one array per worker index 1..worker_cnt, each exactly
   * `vnodePoints(memberId(host, port, i), vnodeCount)` in generation order. The arrays are not
   * modified or kept. Without it the table computes them. Only the shape is checked (the count, the
   * lengths); a wrong shape refuses the node and leaves the table as it was.
   */
  upsert(node: unknown, memberPoints?: readonly Uint32Array[]): UpsertResult {
    const check = validateZkNode(node);
    if (!check.ok) return this.#refuse(check.reason);
    const badPoints = this.#checkPoints(check.node, memberPoints);
    if (badPoints !== undefined) return this.#refuse(badPoints);
    this.lastRefusal = undefined;
    const change = this.#newChange();
    this.#apply(check.node.path, check.node, change, memberPoints);
    return { ok: true, change: this.#emit(change) };
  }

  /** Deletes the entry at path; false when there is none. */
  delZkNode(path: string): boolean {
    const change = this.#newChange();
    const hit = this.#apply(path, undefined, change);
    this.#emit(change);
    return hit;
  }

  /** Deletes the entry at path and returns what changed in the serving view. */
  remove(path: string): NodesChange {
    const change = this.#newChange();
    this.#apply(path, undefined, change);
    return this.#emit(change);
  }

  applyChildren(type: string, names: readonly string[]): ChildrenDiff {
    const prefix = `${this.root}/${type}/`;
    const want = new Set<string>();
    for (const name of names) want.add(prefix + name);
    const removed: string[] = [];
    for (const path of this.#entries.keys()) {
      if (path.startsWith(prefix) && !path.includes('/', prefix.length) && !want.has(path))
        removed.push(path);
    }
    const change = this.#newChange();
    for (const path of removed) this.#apply(path, undefined, change);
    const added: string[] = [];
    for (const path of want) if (!this.#entries.has(path)) added.push(path);
    return { added, removed, change: this.#emit(change) };
  }

  /** Drops every entry, server, ring and member slot; the version is the caller's business. */
  #empty(): void {
    this.#entries.clear();
    this.#servers.clear();
    this.#types.clear();
  }

  /** Deletes every entry. The version goes up, never back to 0. */
  clear(): NodesChange {
    const change = this.#newChange();
    if (this.#entries.size === 0) return change;
    for (const server of this.#servers.values()) if (server.serving) change.removed.push(server.serving);
    this.#empty();
    this.#version++;
    this.#step({ op: 'reset', version: this.#version });
    return this.#emit(change);
  }

  /** Raises the version to v (a primary's numbering); never lowers it. */
  advanceVersion(v: number): void {
    if (Number.isSafeInteger(v) && v > this.#version) this.#version = v;
  }

  getNodeInHash(type: string, key: string | number | Uint8Array): HashNode | undefined {
    const members = this.#types.get(type);
    if (members === undefined) return undefined;
    let h: number;
    if (typeof key === 'string') h = this.#hashString(key);
    // kimserver hashes an int key as std::to_string(key); String() agrees for every integer.
    else if (typeof key === 'number') {
      if (!Number.isInteger(key)) return undefined;
      h = this.#hashString(String(key));
    } else h = hashKey(this.hash, key);
    return members.find(h);
  }

  /** Lookup by an already computed key hash (uint32), e.g. one hashKey() gave. */
  getNodeByHash(type: string, hash: number): HashNode | undefined {
    return this.#types.get(type)?.find(hash >>> 0);
  }

  get(path: string): ZkNode | undefined {
    return this.#entries.get(path);
  }

  /** Serving nodes (optionally of one type), in ring insertion order. */
  list(type?: string): ZkNode[] {
    return this.#servingInOrder(type).map((s) => s.serving!);
  }

  /** Servers with a serving node (optionally of one type), in ring insertion order. */
  #servingInOrder(type?: string): Server[] {
    const servers = [...this.#servers.values()].filter(
      (s) => s.serving && (type === undefined || s.serving.type === type),
    );
    servers.sort((a, b) => a.seq - b.seq);
    return servers;
  }

  /** Every entry, shadowed ones included. */
  entries(): ZkNode[] {
    return [...this.#entries.values()];
  }

  /**
   * How many of the 2^32 key hashes each ring member of `type` serves, members in ring insertion order
   * (for the status page). O(points): computed when asked, never kept.
   */
  keyShares(type: string): { member: HashNode; keys: number }[] {
    const members = this.#types.get(type);
    if (members === undefined) return [];
    // A hash h goes to the first point >= h, so point i serves (point i-1, point i], the first one the wrap;
    // of equal points the first serves and the others get an empty arc.
    const e = members.ring.entries();
    if (e.length === 0) return [];
    const keys = new Float64Array(members.slotLimit);
    let prev = e[e.length - 2] - 2 ** 32;
    for (let i = 0; i < e.length; i += 2) {
      keys[e[i + 1]] += e[i] - prev;
      prev = e[i];
    }
    return this.#servingInOrder(type).flatMap((s) =>
      s.slots.map((slot) => ({ member: members.member(slot)!, keys: keys[slot] })),
    );
  }

  /** Ring points of a type (for metrics and tests). */
  pointCount(type?: string): number {
    if (type !== undefined) return this.#types.get(type)?.ring.length ?? 0;
    let n = 0;
    for (const members of this.#types.values()) n += members.ring.length;
    return n;
  }

  /**
   * The ring points of the node at `path` while it serves, one array per worker index 1..worker_cnt (the
   * table's own: read them, do not change them); undefined for a shadowed or unknown path. A primary sends
   * them to its replicas, so that they need not compute them again.
   */
  memberPoints(path: string): readonly Uint32Array[] | undefined {
    const n = this.#entries.get(path);
    if (n === undefined) return undefined;
    const server = this.#servers.get(serverKey(n));
    if (server === undefined || server.serving !== n) return undefined;
    const members = this.#types.get(n.type)!;
    return server.slots.map((slot) => members.points(slot));
  }

  snapshot(): NodesSnapshot {
    const serving = this.list();
    const rows = serving.map(toRow);
    const servingPaths = new Set(serving.map((n) => n.path));
    const shadowed = [...this.#entries.values()].filter((n) => !servingPaths.has(n.path));
    shadowed.sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const n of shadowed) rows.push(toRow(n));
    return {
      format: SNAPSHOT_FORMAT,
      version: this.#version,
      vnodeCount: this.vnodeCount,
      hash: this.hash,
      nodes: rows,
    };
  }

  /**
   * Replaces the content with a snapshot's. Throws a TypeError on a malformed snapshot or one made
   * with another ring layout. The version becomes the snapshot's when that is higher; otherwise it
   * goes up by one if the content or its order changed. `memberPoints` may give serving nodes' points
   * by path, as for upsert; points of the wrong shape are not used (the table computes those).
   */
  restore(snap: unknown, memberPoints?: ReadonlyMap<string, readonly Uint32Array[]>): NodesChange {
    const parsed = parseSnapshot(snap);
    if (parsed.vnodeCount !== this.vnodeCount || parsed.hash !== this.hash) {
      throw new TypeError(
        `snapshot ring layout (${parsed.vnodeCount}, ${parsed.hash}) differs from this table's (${this.vnodeCount}, ${this.hash})`,
      );
    }
    const before = new Map<string, ZkNode>();
    for (const s of this.#servers.values()) if (s.serving) before.set(s.serving.path, s.serving);
    // The same nodes in the same order as this table's own snapshot: the order of the serving ones is
    // their rings' insertion order, which decides every tie (the first insert wins), so the same nodes
    // joined in another order answer some lookups differently.
    const rows = this.snapshot().nodes;
    let same = rows.length === parsed.nodes.length;
    for (let i = 0; same && i < rows.length; i++) {
      const n = parsed.nodes[i];
      const old = this.#entries.get(n.path);
      same = rows[i][0] === n.path && old !== undefined && sameZkNode(old, n);
    }

    const change = this.#newChange();
    const versionBefore = this.#version;
    if (!same) {
      this.#empty();
      for (const n of parsed.nodes) {
        this.#entries.set(n.path, n);
        const key = serverKey(n);
        const server = this.#servers.get(key);
        if (server === undefined) this.#servers.set(key, { paths: [n.path], serving: n, slots: [], seq: 0 });
        else {
          server.paths.push(n.path);
          if (beats(n, server.serving!)) server.serving = n;
        }
      }
      // Serving nodes are listed first in insertion order; give them members in that order, then
      // sort each ring once.
      for (const n of parsed.nodes) {
        const server = this.#servers.get(serverKey(n))!;
        if (server.serving !== n) continue;
        server.seq = ++this.#seq;
        const given = memberPoints?.get(n.path);
        const usable = given !== undefined && this.#checkPoints(n, given) === undefined ? given : undefined;
        this.#newMembers(server, n, usable);
      }
      for (const members of this.#types.values()) members.ring.flush();
      for (const s of this.#servers.values()) {
        const n = s.serving!;
        const old = before.get(n.path);
        if (old === undefined) change.added.push(n);
        else if (!sameZkNode(old, n)) change.changed.push({ old, new: n });
        before.delete(n.path);
      }
      change.removed.push(...before.values());
      this.#version++;
    }
    this.advanceVersion(parsed.version);
    if (this.#version !== versionBefore) this.#step({ op: 'reset', version: this.#version });
    return this.#emit(change);
  }

  // --- internals ---

  #refuse(reason: string): UpsertResult {
    this.lastRefusal = reason;
    return { ok: false, reason };
  }

  /** Why precomputed member points cannot be used for n, or undefined when they can (or are absent). */
  #checkPoints(n: ZkNode, memberPoints: readonly Uint32Array[] | undefined): string | undefined {
    if (memberPoints === undefined) return undefined;
    if (!Array.isArray(memberPoints) || memberPoints.length !== n.worker_cnt) {
      return `memberPoints must be an array of ${n.worker_cnt} Uint32Array (one per worker)`;
    }
    const want = vnodePointCount(this.vnodeCount);
    for (let i = 0; i < memberPoints.length; i++) {
      const p = memberPoints[i];
      if (!(p instanceof Uint32Array) || p.length !== want) {
        return `memberPoints[${i}] must be a Uint32Array of ${want} points (worker ${i + 1})`;
      }
    }
    return undefined;
  }

  #newChange(): NodesChange {
    return { version: this.#version, added: [], removed: [], changed: [] };
  }

  #step(step: NodesStep): void {
    if (this.listenerCount('step') > 0) this.#notify('step', step);
  }

  #emit(change: NodesChange): NodesChange {
    change.version = this.#version;
    if (change.added.length + change.removed.length + change.changed.length > 0)
      this.#notify('change', change);
    return change;
  }

  /**
   * Calls each listener in turn, as emit() would, but one that throws is reported instead of unwinding
   * into the table: a 'step' is emitted in the middle of a multi-path update (applyChildren), and a throw
   * there left the table half updated, out of step with ZooKeeper, and every later listener uncalled.
   */
  #notify<E extends 'change' | 'step'>(event: E, arg: E extends 'change' ? NodesChange : NodesStep): void {
    emitEach(this, event, [arg], (err) => {
      this.listenerErrors++;
      try {
        this.#onListenerError(err, event);
      } catch {
        // A failing error hook has nowhere left to report to; the table must still not unwind.
      }
    });
  }

  /**
   * Sets (next) or deletes (undefined) the entry at path, moves ring members for every server whose
   * serving node changed, and records the serving-view difference in `change`. Returns whether the
   * stored entries changed.
   */
  #apply(
    path: string,
    next: ZkNode | undefined,
    change: NodesChange,
    nextPoints?: readonly Uint32Array[],
  ): boolean {
    const prev = this.#entries.get(path);
    if (prev === undefined && next === undefined) return false;
    if (prev !== undefined && next !== undefined && sameZkNode(prev, next)) return false;

    // At most two servers change: prev's and next's (one, when both are on the same host:port). Kept in locals,
    // not in collections: this runs once per ack, and allocation here was most of an upsert's garbage.
    const key1 = serverKey(prev ?? next!);
    const nextKey = prev !== undefined && next !== undefined ? serverKey(next) : undefined;
    const key2 = nextKey !== key1 ? nextKey : undefined;
    const was1 = this.#servers.get(key1)?.serving;
    const was2 = key2 === undefined ? undefined : this.#servers.get(key2)?.serving;

    if (prev) {
      const paths = this.#servers.get(key1)!.paths;
      // Shifted by hand: splice would make an array of what it removes.
      const i = paths.indexOf(path);
      for (let j = i + 1; j < paths.length; j++) paths[j - 1] = paths[j];
      paths.length--;
      this.#entries.delete(path);
    }
    if (next) {
      this.#entries.set(path, next);
      const key = key2 ?? key1;
      const server = this.#servers.get(key);
      if (server === undefined)
        this.#servers.set(key, { paths: [path], serving: undefined, slots: [], seq: 0 });
      else server.paths.push(path);
    }
    this.#version++;

    const server1 = this.#servers.get(key1)!;
    const server2 = key2 === undefined ? undefined : this.#servers.get(key2)!;
    const now1 = this.#elect(server1);
    const now2 = server2 === undefined ? undefined : this.#elect(server2);
    // Members leave before any join, so a node moving between servers never overlaps itself.
    const join1 = this.#leave(key1, server1, was1, now1);
    const join2 = server2 !== undefined && this.#leave(key2!, server2, was2, now2);
    // Precomputed points belong to `next`; another node joining (a shadowed one serving again) gets its points
    // computed.
    if (join1) this.#join(server1, now1!, now1 === next ? nextPoints : undefined);
    if (join2) this.#join(server2!, now2!, now2 === next ? nextPoints : undefined);

    // Every other entry is the same object on the same server before and after, so only this path can serve
    // both before and after: that is a change, not a removal plus an addition.
    const changed =
      prev !== undefined &&
      next !== undefined &&
      (prev === was1 || prev === was2) &&
      (next === now1 || next === now2);
    if (changed) change.changed = append(change.changed, { old: prev, new: next });
    const told = changed ? path : undefined;
    this.#report(change, was1, now1, told);
    this.#report(change, was2, now2, told);
    // The step is built only for a listener: most tables have none.
    if (this.listenerCount('step') > 0)
      this.#notify(
        'step',
        next
          ? { op: 'set', version: this.#version, node: next }
          : { op: 'del', version: this.#version, path },
      );
    return true;
  }

  /** Picks the server's serving node from its paths (undefined when it has none). */
  #elect(server: Server): ZkNode | undefined {
    let now: ZkNode | undefined;
    for (const p of server.paths) {
      const n = this.#entries.get(p)!;
      if (now === undefined || beats(n, now)) now = n;
    }
    server.serving = now;
    return now;
  }

  /**
   * The server at key served `was` and now serves `now`: takes out its members when its ring data changes, and
   * the server when no path is left. True when `now` needs members of its own.
   */
  #leave(key: string, server: Server, was: ZkNode | undefined, now: ZkNode | undefined): boolean {
    if (was === now || (was && now && sameRingData(was, now))) return false;
    if (was) this.#dropMembers(server, was.type);
    if (now) return true;
    this.#servers.delete(key);
    return false;
  }

  #join(server: Server, n: ZkNode, given: readonly Uint32Array[] | undefined): void {
    server.seq = ++this.#seq;
    this.#newMembers(server, n, given);
  }

  /** One server's part of the serving-view difference, but for the path `told` as changed. */
  #report(
    change: NodesChange,
    was: ZkNode | undefined,
    now: ZkNode | undefined,
    told: string | undefined,
  ): void {
    if (was === now) return;
    if (was !== undefined && was.path !== told) change.removed = append(change.removed, was);
    if (now !== undefined && now.path !== told) change.added = append(change.added, now);
  }

  /** Gives server's serving node n its ring members (given or computed points), as the newest inserts. */
  #newMembers(server: Server, n: ZkNode, given?: readonly Uint32Array[]): void {
    let members = this.#types.get(n.type);
    if (members === undefined) {
      members = new Members(n.type, vnodePointCount(this.vnodeCount));
      this.#types.set(n.type, members);
    }
    const slots = new Array<number>(n.worker_cnt);
    for (let i = 1; i <= n.worker_cnt; i++) {
      const points = given?.[i - 1];
      // Given points are copied: the caller's arrays are theirs (and may be views into a message).
      slots[i - 1] = members.add(n.host, n.port, i, (out, at) => {
        if (points === undefined) vnodePointsInto(memberId(n.host, n.port, i), this.vnodeCount, out, at);
        else out.set(points, at);
      });
    }
    server.slots = slots;
  }

  /** Takes the server's members out of their type's ring. */
  #dropMembers(server: Server, type: string): void {
    const members = this.#types.get(type)!;
    for (const slot of server.slots) members.drop(slot);
    server.slots = [];
    if (members.count === 0) this.#types.delete(type);
  }
}
