// The ring members of one node type: their lookup answers, their points and their ring.
//
// A member is a slot, a small integer reused once freed, so that the ring's entries need only a few
// bits for it. Every member of a table has the same number of points, so a slot's points have a fixed
// place: the points of slots s live in chunks of 2^chunkBits members, at (s mod 2^chunkBits) * per in
// chunk s >> chunkBits. A member then costs its points and nothing more: no typed array (and
// ArrayBuffer) of its own, no allocation per join beyond its answer object, and a chunk is ~64 KiB, so
// a type with few members wastes little. Views of the points are made when asked for.

import { Ring } from './ring.js';
import type { HashNode } from './table.js';

/** Points per chunk, about: 16k words (64 KiB). */
const CHUNK_WORDS = 1 << 14;

export class Members {
  readonly ring = new Ring();
  readonly #per: number;
  readonly #chunkBits: number;
  /** Answers by slot; undefined for a free slot. */
  readonly #nodes: (HashNode | undefined)[] = [];
  readonly #free: number[] = [];
  readonly #chunks: Uint32Array[] = [];

  /** `per`: points per member. */
  constructor(per: number) {
    this.#per = per;
    this.#chunkBits = 31 - Math.clz32(Math.max(1, Math.floor(CHUNK_WORDS / per)));
  }

  /** Live members. */
  get count(): number {
    return this.#nodes.length - this.#free.length;
  }

  /** One more than the greatest slot ever used: slots are below it. */
  get slotLimit(): number {
    return this.#nodes.length;
  }

  member(slot: number): HashNode | undefined {
    return this.#nodes[slot];
  }

  /** The member serving hash h, or undefined when the ring is empty. */
  find(h: number): HashNode | undefined {
    const slot = this.ring.find(h);
    return slot < 0 ? undefined : this.#nodes[slot];
  }

  /** A view of the slot's points (the table's own: read them, do not change them). */
  points(slot: number): Uint32Array {
    const at = this.#offset(slot);
    return this.#chunks[slot >>> this.#chunkBits].subarray(at, at + this.#per);
  }

  /** Where the slot's points start in its chunk. */
  #offset(slot: number): number {
    return (slot & ((1 << this.#chunkBits) - 1)) * this.#per;
  }

  /**
   * Adds a member as the ring's newest insert. `fill` writes its `per` points into the array at the
   * offset given (copying precomputed ones, or computing them there). Returns its slot.
   */
  add(node: HashNode, fill: (out: Uint32Array, at: number) => void): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#nodes.length;
    this.#nodes[slot] = node;
    const chunk = slot >>> this.#chunkBits;
    if (chunk === this.#chunks.length) this.#chunks.push(new Uint32Array(this.#per << this.#chunkBits));
    fill(this.#chunks[chunk], this.#offset(slot));
    this.ring.insert(this.points(slot), slot);
    return slot;
  }

  /** Takes the member out of the ring and frees its slot. */
  drop(slot: number): void {
    this.ring.remove(this.points(slot), slot);
    this.#nodes[slot] = undefined;
    this.#free.push(slot);
  }
}
