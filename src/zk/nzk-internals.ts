// The few places where ZkSession reaches into node-zookeeper-client 1.1.x's private ConnectionManager. Each one
// works around a defect its public API cannot: they are kept here, together, so that an upgrade of the library
// has one file to re-check against lib/ConnectionManager.js and lib/Transaction.js.
import type { Socket } from 'node:net';
import type { Client, Transaction } from 'node-zookeeper-client';

/** lib/ConnectionManager.js STATES. */
const CM_CLOSED = -2;

interface ConnectionManager {
  state: number;
  servers: unknown[];
  socket?: Socket;
  connectTimeoutHandler: NodeJS.Timeout | null;
  onSocketError(error: Error): void;
  findNextServer(callback: (server: unknown) => void): void;
  on(event: 'state', listener: (state: number) => void): void;
  removeListener(event: 'state', listener: (state: number) => void): void;
}

const managers = new WeakMap<Client, { cm: ConnectionManager; stopped: boolean }>();

function cmOf(client: Client): { cm: ConnectionManager; stopped: boolean } {
  let entry = managers.get(client);
  if (!entry) {
    entry = {
      cm: (client as unknown as { connectionManager: ConnectionManager }).connectionManager,
      stopped: false,
    };
    managers.set(client, entry);
  }
  return entry;
}

/**
 * Prepares a fresh client (before connect()):
 * - Socket errors are reported to `onSocketError`. The library swallows them and retries a bad host forever
 *   without a word (#51, #69); this is how a connect attempt learns "ECONNREFUSED" instead of only timing out.
 *   The library binds the handler when it creates each socket, so replacing the instance method is enough.
 * - Once `stopSockets` has run, the library can open no new socket. Its reconnect waits up to spinDelay in a
 *   timer before it connects again; a close() that lands in that window would otherwise be followed by a new
 *   socket, opened after close() returned.
 */
export function instrumentClient(client: Client, onSocketError: (error: Error) => void): void {
  const entry = cmOf(client);
  const { cm } = entry;
  const originalOnError = cm.onSocketError;
  cm.onSocketError = function (this: ConnectionManager, error: Error) {
    onSocketError(error);
    originalOnError.call(this, error);
  };
  const originalFindNext = cm.findNextServer;
  cm.findNextServer = function (this: ConnectionManager, callback: (server: unknown) => void) {
    originalFindNext.call(this, (server: unknown) => {
      if (!entry.stopped) callback(server);
    });
  };
}

/** How many servers the connect string names. */
export function serverCount(client: Client): number {
  return cmOf(client).cm.servers.length;
}

/** True while the client holds a socket that is not destroyed (connecting or connected). */
export function hasOpenSocket(client: Client): boolean {
  const { cm } = cmOf(client);
  return cm.socket !== undefined && !cm.socket.destroyed;
}

/**
 * Closes a client and makes sure its socket is gone within about `boundMs`, whatever the server does (#60).
 *
 * client.close() only queues a CLOSE_SESSION request and waits for the server to drop the connection. With the
 * server down or frozen that never happens: a socket whose TCP connect the kernel accepted for a frozen JVM
 * stays open with no timer (the connect timeout is cleared on TCP connect, and the ping timer starts only
 * after a session handshake), and a refused server is retried after spinDelay. So after the bound the socket is
 * destroyed by hand, and no new one may be opened.
 */
export async function closeHard(client: Client, boundMs: number): Promise<'graceful' | 'destroyed'> {
  const entry = cmOf(client);
  const { cm } = entry;
  if (cm.state === CM_CLOSED || !hasOpenSocket(client)) {
    entry.stopped = true;
    if (cm.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler);
    client.close();
    await destroySocket(cm.socket);
    return 'destroyed';
  }
  let onState: ((state: number) => void) | undefined;
  const closed = new Promise<void>((resolve) => {
    onState = (state) => {
      if (state === CM_CLOSED) resolve();
    };
    cm.on('state', onState);
  });
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), boundMs);
  });
  client.close();
  const outcome = await Promise.race([closed.then(() => 'closed' as const), bound]);
  clearTimeout(timer);
  entry.stopped = true;
  if (outcome === 'timeout') {
    if (cm.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler);
    await destroySocket(cm.socket);
  }
  if (onState) cm.removeListener('state', onState);
  return outcome === 'closed' ? 'graceful' : 'destroyed';
}

/** Destroys a socket and waits (briefly) for its handle to be released, so that it is gone when close() returns. */
async function destroySocket(socket: Socket | undefined): Promise<void> {
  if (!socket || socket.closed) return;
  socket.destroy();
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    timer = setTimeout(resolve, 200);
  });
  clearTimeout(timer);
}

/**
 * Transaction.check/setData/remove do `version = version || -1`, which turns version 0 (a node never written
 * since its creation) into "any version". Put the caller's version back on the op just added.
 */
export function setLastOpVersion(tx: Transaction, version: number): void {
  const ops = (tx as unknown as { ops: { version?: number }[] }).ops;
  ops[ops.length - 1].version = version;
}
