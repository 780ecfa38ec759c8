// Emitting to user listeners without letting one that throws abort the caller's work. EventEmitter.emit
// stops at the first listener that throws and throws into the emitter's caller: there, the middle of a table
// update or a replica's message, whose remaining steps (the other changes, the version check) would be lost.
import type { EventEmitter } from 'node:events';

/**
 * Calls every listener of `event` in turn with `args`; each one that throws goes to `onError`, and the rest
 * still run. `once` listeners are removed as with emit().
 */
export function emitEach(
  emitter: EventEmitter,
  event: string,
  args: readonly unknown[],
  onError: (err: unknown) => void,
): void {
  for (const listener of emitter.rawListeners(event) as ((...a: unknown[]) => void)[]) {
    try {
      listener.apply(emitter, args as unknown[]);
    } catch (err) {
      onError(err);
    }
  }
}
