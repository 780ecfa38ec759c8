// A process that owns one ZkSession, for tests that must freeze the session's owner (SIGSTOP) to expire it.
// Usage: node zk-session-child.js CONNECT_STRING EPHEMERAL_PATH SESSION_TIMEOUT_MS
// Writes JSON lines to stdout: {"ready":true,"sessionId":…,"path":…} once its ephemeral node exists, then
// every ZkEvent. On SIGTERM it closes the session and exits 0.
import { CreateMode, ZkSession } from '../../src/zk/session.js';

const [connectString, path, timeout] = process.argv.slice(2);
const out = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const session = new ZkSession({
  connectString,
  sessionTimeoutMs: Number(timeout),
  onEvent: (event) => out(event),
  connect: { deadlineMs: 10000 },
});

// Stay alive until told to stop: after expiry the dead client holds nothing that would keep the process up.
const keepAlive = setInterval(() => {}, 60_000);
process.on('SIGTERM', () => {
  clearInterval(keepAlive);
  session.close().then(() => process.exit(0));
});

await session.connect();
await session.create(path, 'child', CreateMode.EPHEMERAL);
out({ ready: true, sessionId: session.sessionId, sessionTimeout: session.sessionTimeout, path });
