// The ring members of one node type: their lookup answers, their points and their ring.
//
// A member is a slot, a small integer reused once freed, so that the ring's entries need only a few
// bits for it. Every member of a table has the same number of points, so a slot's points have a fixed
// place: the points of slots s live in chunks of 2^chunkBits members, at (s mod 2^chunkBits) * per in
// chunk s >> chunkBits. A member then costs its points and nothing more: no typed array (and
// ArrayBuffer) of its own, no allocation per join, and a chunk is ~64 KiB, so a type with few members
// wastes little. Views of the points are made when asked for.
//
// A member's answer (its HashNode, with its id string) is made on its first lookup and kept until it
// leaves: a table whose points are given (the bio thread computes them) never needs the id otherwise, and
// most members of a cluster primary's table, which serves no lookups, are never asked for. A sync of
// 5,000 eight-worker peers made 40,000 of them on the main thread, all surviving its young generation.

import { Ring } from './ring.js';
import type { HashNode } from './table.js';
import { memberId } from './vnodes.js';

/** Points per chunk, about: 16k words (64 KiB). */
const CHUNK_WORDS = 1 << 14;

export class Members {
  readonly ring = new Ring();
  readonly #type: string;
  readonly #per: number;
  readonly #chunkBits: number;
  /** Each slot's server host (undefined for a free slot), port and worker index. */
  readonly #hosts: (string | undefined)[] = [];
  readonly #ports: number[] = [];
  readonly #workers: number[] = [];
  /** Answers by slot, once asked for. */
  readonly #answers: (HashNode | undefined)[] = [];
  readonly #free: number[] = [];
  readonly #chunks: Uint32Array[] = [];

  /** `per`: points per member. */
  constructor(type: string, per: number) {
    this.#type = type;
    this.#per = per;
    this.#chunkBits = 31 - Math.clz32(Math.max(1, Math.floor(CHUNK_WORDS / per)));
  }

  /** Live members. */
  get count(): number {
    return this.#hosts.length - this.#free.length;
  }

  /** One more than the greatest slot ever used: slots are below it. */
  get slotLimit(): number {
    return this.#hosts.length;
  }

  /** The slot's answer, the same object for as long as the member lives; undefined for a free slot. */
  member(slot: number): HashNode | undefined {
    return this.#answers[slot] ?? this.#answer(slot);
  }

  /** The member serving hash h, or undefined when the ring is empty. */
  find(h: number): HashNode | undefined {
    const slot = this.ring.find(h);
    return slot < 0 ? undefined : this.member(slot);
  }

  #answer(slot: number): HashNode | undefined {
    const host = this.#hosts[slot];
    if (host === undefined) return undefined;
    const port = this.#ports[slot];
    const workerIndex = this.#workers[slot];
    const id = memberId(host, port, workerIndex);
    const answer: HashNode = Object.freeze({ id, type: this.#type, host, port, workerIndex });
    this.#answers[slot] = answer;
    return answer;
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
   * Adds worker `workerIndex` of the server at host:port as the ring's newest insert. `fill` writes its
   * `per` points into the array at the offset given (copying precomputed ones, or computing them there).
   * Returns its slot.
   */
  add(host: string, port: number, workerIndex: number, fill: (out: Uint32Array, at: number) => void): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#hosts.length;
    this.#hosts[slot] = host;
    this.#ports[slot] = port;
    this.#workers[slot] = workerIndex;
    this.#answers[slot] = undefined;
    const chunk = slot >>> this.#chunkBits;
    if (chunk === this.#chunks.length) this.#chunks.push(new Uint32Array(this.#per << this.#chunkBits));
    fill(this.#chunks[chunk], this.#offset(slot));
    this.ring.insert(this.points(slot), slot);
    return slot;
  }

  /** Takes the member out of the ring and frees its slot. */
  drop(slot: number): void {
    this.ring.remove(this.points(slot), slot);
    this.#hosts[slot] = undefined;
    this.#answers[slot] = undefined;
    this.#free.push(slot);
  }
}
