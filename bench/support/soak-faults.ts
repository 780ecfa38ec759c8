/**
 * bench/soak's faults, one at a time so that the ensemble never loses its quorum for longer than an election:
 * a ZooKeeper server killed with SIGKILL and started again, and the node under test frozen past its session
 * timeout (its session expires; it must register again and resync once thawed).
 */

import type { ZkHandle } from '../../src/cli/zk_server.js';
import type { PeerClient } from './peer-client.js';
import { retrying } from './soak-check.js';
import type { SoakNode } from './soak-node-handle.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Restart {
  server: number;
  wasLeader: boolean;
  /** From the kill until the ensemble serves with a leader again, the restarted server included. */
  ms: number;
}

/** Kills one server (the leader a third of the time), waits 0.5-2 s, starts it and waits until all serve. */
export async function restartServer(zk: ZkHandle): Promise<Restart> {
  const leader = await zk.leaderId();
  const id =
    leader !== undefined && Math.random() < 1 / 3
      ? leader
      : 1 + Math.floor(Math.random() * zk.servers.length);
  const started = Date.now();
  await zk.server(id).kill('SIGKILL');
  await sleep(500 + Math.random() * 1500);
  await zk.server(id).start();
  await zk.waitServing(30_000);
  return { server: id, wasLeader: id === leader, ms: Date.now() - started };
}

export interface Expiry {
  /** The registration before and after. */
  oldSelf: string;
  newSelf: string;
  /** SIGSTOP until ZooKeeper deleted the old registration (the session expired). */
  frozenMs: number;
  /** SIGCONT until the node is healthy again with its new registration. */
  recoveredMs: number;
}

/**
 * Freezes the node until ZooKeeper, as `truth` sees it, has dropped its registration: the server expires a
 * session only after its timeout, so that is the one sign that needs no guess at the timing. Always thaws it.
 */
export async function forceExpiry(node: SoakNode, truth: PeerClient, boundMs: number): Promise<Expiry> {
  const before = await node.snapshot();
  const oldSelf = before.self;
  if (oldSelf === null) throw new Error(`forced expiry: the node is not registered (state ${before.state})`);
  const frozenAt = Date.now();
  node.freeze();
  let thawedAt: number;
  try {
    while ((await retrying(() => truth.exists(oldSelf))) !== null) {
      if (Date.now() - frozenAt > boundMs)
        throw new Error(`forced expiry: ${oldSelf} still in ZooKeeper after ${boundMs} ms frozen`);
      await sleep(100);
    }
  } finally {
    node.thaw();
    thawedAt = Date.now();
  }
  for (;;) {
    const s = await node.snapshot();
    if (s.healthy && s.self !== null && s.self !== oldSelf)
      return { oldSelf, newSelf: s.self, frozenMs: thawedAt - frozenAt, recoveredMs: Date.now() - thawedAt };
    if (Date.now() - thawedAt > boundMs)
      throw new Error(`forced expiry: not registered again ${boundMs} ms after thawing (state ${s.state})`);
    await sleep(50);
  }
}
