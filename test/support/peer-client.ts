// The independent ZooKeeper client lives with the benches, which play peers with it too; tests import it here.
export * from '../../bench/support/peer-client.js';

/** Polls `cond` every few ms until it holds; throws with `what` after `ms`. */
export async function eventually(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
