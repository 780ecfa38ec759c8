/**
 * The main side of the subscriptions: it asks the bio thread to follow each subscribed type (SUBSCRIBE) and
 * applies the finished changes that come back to the node table. It parses no JSON, computes no points and
 * decides no ZooKeeper round trip: the bio thread (zk/subscriptions.ts) lists, diffs, reads and checks.
 *
 * - SUBSCRIBE per type: on every CONNECTED (a reconnect may have merged or lost events) and, with backoff,
 *   after a failure; one in flight per type, and a second request waits for it. Its ack lists the folder's
 *   children: entries the table holds beyond them (left from before a bio-thread crash, whose new thread
 *   knew nothing to remove) are dropped.
 * - EV_NODE_SET: upsert, with the ring points the bio thread computed; EV_NODE_DEL: remove;
 *   EV_NODE_BAD: counted, warned about once per path, and the node no longer serves (its data is stale).
 * - EV_SUB_FAILED: a folder's watches may be gone; resync it with backoff.
 */
import type { Logger } from 'pino';
import { BioError } from '../bio/protocol.js';
import type { Metrics } from '../metrics.js';
import type { Nodes } from '../nodes/table.js';
import type { BioRecord } from '../ring/codec.js';
import { Cmd } from '../zk/commands.js';
import { readNodeSet } from '../zk/node-change.js';
import { type BadPeer, BadPeers } from './bad_peers.js';
import type { PeerDataReason } from './peer.js';
import { retryDelayMs } from './retry.js';

/** Queues a task; `done` gets its one ack. */
export type QueueTask = (cmd: number, path: string, value: string, done: (ack: BioRecord) => void) => void;

export interface SubscribedTypesOptions {
  nodes: Nodes;
  metrics: Metrics;
  logger: Logger;
  nodesRoot: string;
  types: readonly string[];
  queue: QueueTask;
  /** Runs fn after ms, unless discovery stops first. */
  later: (ms: number, fn: () => void) => void;
  /** Paths warned about for bad data are remembered up to this many (then the oldest is forgotten). */
  maxWarnedPaths?: number;
}

interface TypeState {
  folder: string;
  /** A SUBSCRIBE is queued or in flight. */
  subscribing: boolean;
  /** Another resync was asked for meanwhile: subscribe once more when it is done. */
  again: boolean;
  /** Resynced since the last connect or crash. */
  synced: boolean;
  /** Failures in a row: the next retry waits 200 ms doubling to 5 s, so a lasting error cannot spin. */
  failures: number;
  /** A retry is scheduled; more failures meanwhile wait for it. */
  retrying: boolean;
}

export class SubscribedTypes {
  readonly #o: SubscribedTypesOptions;
  readonly #types = new Map<string, TypeState>();
  /** Peers whose bad data was logged: once per path until it turns good or goes; bounded. */
  readonly #warned: BadPeers;

  constructor(opts: SubscribedTypesOptions) {
    this.#o = opts;
    this.#warned = new BadPeers(opts.maxWarnedPaths);
    for (const type of opts.types) {
      this.#types.set(type, {
        folder: `${opts.nodesRoot}/${type}`,
        subscribing: false,
        again: false,
        synced: false,
        failures: 0,
        retrying: false,
      });
    }
  }

  /** Every type resynced once since the last connect, and none in progress. */
  get synced(): boolean {
    for (const t of this.#types.values()) if (t.subscribing || !t.synced) return false;
    return true;
  }

  /** How many paths are remembered as warned about (bounded). */
  get warnedPaths(): number {
    return this.#warned.size;
  }

  /** Peer znodes skipped now for bad data, in the order they were first refused (the status page's list). */
  get badPeers(): BadPeer[] {
    return this.#warned.list();
  }

  /** A (re)connected session: resync every type. */
  resyncAll(): void {
    for (const type of this.#types.keys()) this.#subscribe(type);
  }

  /** The bio thread crashed: its SUBSCRIBE acks came back WorkerCrashed, and nothing is followed until resynced. */
  reset(): void {
    for (const t of this.#types.values()) {
      t.subscribing = false;
      t.again = false;
      t.synced = false;
    }
  }

  /** Applies a change event from the bio thread; false when `ev` is none. */
  apply(ev: BioRecord): boolean {
    switch (ev.cmd) {
      case Cmd.EV_NODE_SET:
        this.#set(ev);
        return true;
      case Cmd.EV_NODE_DEL:
        this.#warned.forget(ev.path);
        this.#o.nodes.remove(ev.path);
        return true;
      case Cmd.EV_NODE_BAD:
        this.#bad(ev.path, ev.errName as PeerDataReason, ev.result);
        return true;
      case Cmd.EV_SUB_FAILED: {
        const type = this.#typeOf(ev.path);
        this.#o.logger.warn(
          { type, error: ev.errName, detail: ev.result },
          'following a node type failed; resyncing it',
        );
        if (type) this.#retry(type);
        return true;
      }
      default:
        return false;
    }
  }

  #set(ev: BioRecord): void {
    // Too large for the ack ring even as a node: the data itself was (a peer may make it as large as it likes).
    if (ev.error === BioError.RecordTooLarge) {
      this.#bad(ev.path, 'too_large', `${ev.result} bytes do not fit in the ack ring`);
      return;
    }
    const set = readNodeSet(ev);
    const result = set === undefined ? undefined : this.#o.nodes.upsert(set.node, set.memberPoints);
    if (result?.ok) this.#warned.forget(ev.path);
    else this.#bad(ev.path, 'invalid', result?.reason ?? 'the bio thread sent a malformed node change');
  }

  #bad(path: string, reason: PeerDataReason, detail: string): void {
    this.#o.metrics.badPeerDataTotal.inc({ reason });
    if (this.#warned.note(path, this.#typeOf(path.slice(0, path.lastIndexOf('/'))) ?? '', reason, detail))
      this.#o.logger.warn({ path, reason, detail }, 'skipping bad peer data');
    // A node that turned bad no longer serves: its last good data is stale.
    this.#o.nodes.remove(path);
  }

  #subscribe(type: string): void {
    const t = this.#types.get(type);
    if (!t) return;
    if (t.subscribing) {
      t.again = true;
      return;
    }
    t.subscribing = true;
    this.#o.queue(Cmd.SUBSCRIBE, t.folder, type, (ack) => this.#onSubscribed(type, t, ack));
  }

  #onSubscribed(type: string, t: TypeState, ack: BioRecord): void {
    t.subscribing = false;
    if (ack.error === 0) {
      t.failures = 0;
      t.synced = true;
      this.#o.nodes.applyChildren(type, ack.values);
      this.#warned.forgetGone(t.folder, ack.values);
    } else if (ack.error !== BioError.Cancelled && ack.error !== BioError.WorkerCrashed) {
      // Connection loss and the like: the reconnect resyncs too; otherwise this tries again shortly.
      this.#o.logger.warn({ type, error: ack.errName, detail: ack.result }, 'resyncing a node type failed');
      this.#retry(type);
      return;
    }
    if (t.again) {
      t.again = false;
      this.#subscribe(type);
    }
  }

  /** A resync of `type` after a failure, with backoff; one retry pending per type at a time. */
  #retry(type: string): void {
    const t = this.#types.get(type);
    if (!t || t.retrying) return;
    t.retrying = true;
    t.synced = false;
    const delay = retryDelayMs(t.failures++);
    this.#o.later(delay, () => {
      t.retrying = false;
      this.#subscribe(type);
    });
  }

  #typeOf(folder: string): string | undefined {
    const root = `${this.#o.nodesRoot}/`;
    if (!folder.startsWith(root)) return undefined;
    const type = folder.slice(root.length);
    return this.#types.has(type) ? type : undefined;
  }
}
