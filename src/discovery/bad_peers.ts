/**
 * Peer znodes skipped for bad data, by path, until they turn good or go: discovery warns once per path, and
 * the status page lists them with their reason. Bounded, since any peer can create bad znodes: past `max`,
 * the oldest is forgotten (and would be warned about again).
 */
import type { PeerDataReason } from './peer.js';

/** A peer znode whose data was refused, and why. */
export interface BadPeer {
  path: string;
  type: string;
  reason: PeerDataReason;
  detail: string;
  /** When it was first refused (ms since the epoch). */
  since: number;
}

export class BadPeers {
  readonly #byPath = new Map<string, BadPeer>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  get size(): number {
    return this.#byPath.size;
  }

  /** Records a refusal (the latest reason wins); true the first time for this path, to warn once. */
  note(path: string, type: string, reason: PeerDataReason, detail: string): boolean {
    const known = this.#byPath.get(path);
    if (!known && this.#byPath.size >= this.#max) this.forget(this.#byPath.keys().next().value as string);
    this.#byPath.set(path, { path, type, reason, detail, since: known?.since ?? Date.now() });
    return known === undefined;
  }

  /** The refusal recorded for `path`, if any. */
  get(path: string): BadPeer | undefined {
    return this.#byPath.get(path);
  }

  /** The path turned good or is gone. */
  forget(path: string): void {
    this.#byPath.delete(path);
  }

  /** Forgets those directly under `folder` whose name a listing of it no longer has. */
  forgetGone(folder: string, names: readonly string[]): void {
    if (this.#byPath.size === 0) return;
    const listed = new Set(names);
    for (const path of this.#byPath.keys()) {
      const cut = path.lastIndexOf('/');
      if (path.slice(0, cut) === folder && !listed.has(path.slice(cut + 1))) this.#byPath.delete(path);
    }
  }

  /** In the order they were first refused. */
  list(): BadPeer[] {
    return [...this.#byPath.values()];
  }
}
