// The few places where ZkSession reaches into node-zookeeper-client 1.1.x's private ConnectionManager. Each one
// works around a defect its public API cannot: they are kept here, together, so that an upgrade of the library
// has one file to re-check against lib/ConnectionManager.js and lib/Transaction.js.
import { createRequire } from 'node:module';
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

// ---- Persistent recursive watches (ZooKeeper 3.6+, used by the subscriptions; kept apart from the rest) ----
//
// The library has no addWatch (opcode 106), and two things in it stand in the way:
// - a reply to an opcode it does not know is treated as a broken stream (it destroys the socket), so the
//   request goes out as addWatch and its reply is read as a delete's: a header with no body, which is
//   exactly what addWatch's reply is;
// - a notification is only handed to watchers it registered itself, one-shot, for the exact path, so a
//   persistent watch's events (any path below the watched one) would be dropped. Every notification is shown
//   to `onNotification` first, then to the library as before.
// The library's SetWatches after a reconnect knows nothing of these watches: the caller adds them again.

const OP_ADD_WATCH = 106;
const ADD_WATCH_MODE_PERSISTENT_RECURSIVE = 1;

interface JuteRequest {
  header: { type: number };
  toBuffer(): Buffer;
}
interface Jute {
  OP_CODES: { DELETE: number };
  Request: new (header: unknown, payload: unknown) => JuteRequest;
  // addWatch's request is {ustring path, int mode}: CheckVersionRequest {ustring path, int version} on the wire.
  protocol: {
    RequestHeader: new () => { type: number };
    CheckVersionRequest: new () => { path: string; version: number };
  };
}
interface Notifying {
  connectionManager: {
    queue(request: JuteRequest, callback: (err: unknown) => void): void;
    watcherManager: { emit(event: { type: number; path: string }): void };
  };
}

const jute = createRequire(import.meta.url)('node-zookeeper-client/lib/jute/index.js') as Jute;
const hooked = new WeakSet<Client>();

/** Sends addWatch(path, PERSISTENT_RECURSIVE); `done` gets the server's error (ZUNIMPLEMENTED before 3.6). */
export function addPersistentRecursiveWatch(
  client: Client,
  path: string,
  done: (err: unknown) => void,
): void {
  const header = new jute.protocol.RequestHeader();
  const payload = new jute.protocol.CheckVersionRequest();
  payload.path = path;
  payload.version = ADD_WATCH_MODE_PERSISTENT_RECURSIVE;
  const request = new jute.Request(header, payload);
  header.type = jute.OP_CODES.DELETE;
  const toBuffer = request.toBuffer;
  request.toBuffer = function (this: JuteRequest) {
    header.type = OP_ADD_WATCH;
    try {
      return toBuffer.call(this);
    } finally {
      header.type = jute.OP_CODES.DELETE;
    }
  };
  (client as unknown as Notifying).connectionManager.queue(request, done);
}

/**
 * Shows every watch notification the client receives to `onNotification` (event type code as in
 * zookeeper.Event, path), synchronously and before the library's own watchers. Once per client.
 */
export function onEveryNotification(
  client: Client,
  onNotification: (type: number, path: string) => void,
): void {
  if (hooked.has(client)) return;
  hooked.add(client);
  const manager = (client as unknown as Notifying).connectionManager.watcherManager;
  const emit = manager.emit;
  manager.emit = function (this: unknown, event) {
    onNotification(event.type, event.path);
    emit.call(this, event);
  };
}
