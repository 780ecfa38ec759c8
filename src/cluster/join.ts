// The worker side over IPC: ask the primary for the table and resolve with a replica once the first
// snapshot is applied, so no lookup is ever answered from an empty table.
import type { Logger } from 'pino';
import { ZkbioError } from '../errors.js';
import { isClusterMessage } from './protocol.js';
import { type Channel, Replica, sendTo } from './replica.js';

export interface JoinOptions {
  /** How long to wait for the first snapshot before rejecting (ms, default 10000). */
  timeoutMs?: number;
  /** How often an unanswered SYNC is repeated (ms, default 1000): the primary may start sharing later. */
  retryMs?: number;
  /** Defaults to `process`, a node:cluster worker's IPC channel. */
  channel?: Channel;
  /** Logs a replica event listener that threw (see Replica). */
  logger?: Logger;
}

/** Joins the primary's node table; rejects when no snapshot comes within `timeoutMs`. */
export function joinNodeTable(opts: JoinOptions = {}): Promise<Replica> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retryMs = opts.retryMs ?? 1000;
  return new Promise((resolve, reject) => {
    const channel = opts.channel ?? defaultChannel();
    const hello = (): void => sendTo(channel, { zkbio: 1, kind: 'SYNC', version: null });
    const stop = (): void => {
      channel.off('message', onMessage);
      clearInterval(retry);
      clearTimeout(timeout);
    };
    const onMessage = (msg: unknown): void => {
      if (!isClusterMessage(msg) || msg.kind !== 'SNAPSHOT') return;
      let replica: Replica;
      try {
        replica = new Replica(msg, channel, { retryMs, logger: opts.logger });
      } catch {
        return; // Malformed: the next hello asks again.
      }
      stop();
      resolve(replica);
    };
    const retry = setInterval(hello, retryMs);
    const timeout = setTimeout(() => {
      stop();
      reject(
        new ZkbioError(
          'JOIN_TIMEOUT',
          `joinNodeTable: no table snapshot from the cluster primary within ${timeoutMs} ms; does the primary call shareNodeTable()?`,
        ),
      );
    }, timeoutMs);
    channel.on('message', onMessage);
    hello();
  });
}

function defaultChannel(): Channel {
  if (typeof process.send !== 'function') {
    throw new ZkbioError(
      'NO_IPC_CHANNEL',
      'joinNodeTable: this process has no IPC channel; call it in a node:cluster worker',
    );
  }
  return process as unknown as Channel;
}
