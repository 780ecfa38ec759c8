// The few places where ZkSession reaches into node-zookeeper-client 1.1.x's private ConnectionManager. Each one
// works around a defect its public API cannot: they are kept here, together, so that an upgrade of the library
// has one file to re-check against lib/ConnectionManager.js and lib/jute/index.js. assertLibraryShape() checks,
// before any session starts, that every private part used here is still there.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Client, Event } from 'node-zookeeper-client';
import { ZkbioError } from '../errors.js';
import { FrameError, FrameSplitter } from './frames.js';
import { zookeeper } from './nzk.js';
import type { ZkStat } from './session.js';

/** lib/ConnectionManager.js STATES. */
const CM_STATES = { CONNECTING: 1, CONNECTED: 2, CONNECTED_READ_ONLY: 3, CLOSED: -2 } as const;

interface Packet {
  request: { header: { type: number; xid?: number } | null };
}

interface ConnectionManager {
  state: number;
  /** The last zxid the server reported: a reconnect hands it back. */
  zxid: Buffer;
  chrootPath?: string;
  pendingQueue: Packet[];
  watcherManager: {
    emit(event: { type: number; path: string }): void;
    registerDataWatcher(path: string, watcher: (event: Event) => void): void;
  };
  servers: unknown[];
  socket?: Socket;
  /** The requested, then the negotiated, session timeout (ms). */
  sessionTimeout: number;
  /** sessionTimeout / servers: the library's bound on one TCP connect. */
  connectTimeout: number;
  connectTimeoutHandler: NodeJS.Timeout | null;
  packetQueue: { queue: Packet[] };
  onSocketError(error: Error): void;
  onSocketConnected(): void;
  onSocketData(buffer: Buffer): void;
  findNextServer(callback: (server: unknown) => void): void;
  queue(request: unknown, callback?: (err: unknown) => void): void;
  on(event: 'state', listener: (state: number) => void): void;
  removeListener(event: 'state', listener: (state: number) => void): void;
}

interface JuteRequest {
  header: { type: number };
  toBuffer(): Buffer;
}
interface Jute {
  XID_PING: number;
  OP_CODES: { PING: number; DELETE: number };
  Request: new (header: unknown, payload: unknown) => JuteRequest;
  protocol: {
    RequestHeader: new (xid?: number, type?: number) => { type: number };
    // addWatch's request is {ustring path, int mode}: CheckVersionRequest {ustring path, int version} on the wire.
    CheckVersionRequest: new () => { path: string; version: number };
  };
}

const JUTE_PATH = 'node-zookeeper-client/lib/jute/index.js';
const requireCjs = createRequire(import.meta.url);
/** The library's own check, so that readData refuses the paths its getData refuses (AssertionError, thrown). */
const validatePath = (requireCjs('node-zookeeper-client/lib/Path.js') as { validate(path: string): void })
  .validate;

/** node-zookeeper-client lacks a private part zkbio relies on: another version than the 1.1.x zkbio is built for. */
export class ZkLibraryError extends ZkbioError {
  constructor(readonly missing: readonly string[]) {
    super(
      'ZK_LIBRARY_UNSUPPORTED',
      `node-zookeeper-client ${libraryVersion()} lacks what zkbio relies on (${missing.join('; ')}): ` +
        'zkbio needs node-zookeeper-client 1.1.x',
    );
  }
}

function libraryVersion(): string {
  try {
    return (requireCjs('node-zookeeper-client/package.json') as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

/** What of the private shape used here is missing from this client (empty when all is there). */
function missingParts(client: Client): string[] {
  const missing: string[] = [];
  const cm = (client as unknown as { connectionManager?: Record<string, unknown> }).connectionManager;
  if (!cm) return ['Client.connectionManager'];
  for (const m of [
    'onSocketError',
    'onSocketConnected',
    'onSocketData',
    'findNextServer',
    'queue',
    'on',
    'removeListener',
  ]) {
    if (typeof cm[m] !== 'function') missing.push(`ConnectionManager.${m}()`);
  }
  if (typeof cm.state !== 'number') missing.push('ConnectionManager.state');
  if (!Array.isArray(cm.servers)) missing.push('ConnectionManager.servers');
  for (const f of ['sessionTimeout', 'connectTimeout']) {
    if (typeof cm[f] !== 'number') missing.push(`ConnectionManager.${f}`);
  }
  if (!('connectTimeoutHandler' in cm)) missing.push('ConnectionManager.connectTimeoutHandler');
  if (!Array.isArray((cm.packetQueue as { queue?: unknown } | undefined)?.queue))
    missing.push('ConnectionManager.packetQueue.queue');
  const watchers = cm.watcherManager as { emit?: unknown } | undefined;
  if (typeof watchers?.emit !== 'function') missing.push('ConnectionManager.watcherManager.emit()');
  if (typeof (watchers as { registerDataWatcher?: unknown } | undefined)?.registerDataWatcher !== 'function')
    missing.push('ConnectionManager.watcherManager.registerDataWatcher()');
  if (!Array.isArray(cm.pendingQueue)) missing.push('ConnectionManager.pendingQueue');
  if (!Buffer.isBuffer(cm.zxid) || (cm.zxid as Buffer).length !== 8) missing.push('ConnectionManager.zxid');
  const states = (cm.constructor as { STATES?: Record<string, number> }).STATES;
  for (const [name, code] of Object.entries(CM_STATES)) {
    if (states?.[name] !== code) missing.push(`ConnectionManager.STATES.${name} = ${code}`);
  }
  try {
    const jute = requireCjs(JUTE_PATH) as Partial<Jute>;
    if (typeof jute.XID_PING !== 'number' || typeof jute.OP_CODES?.PING !== 'number')
      missing.push('jute XID_PING and OP_CODES.PING');
    if (typeof jute.OP_CODES?.DELETE !== 'number') missing.push('jute OP_CODES.DELETE');
    if (typeof jute.Request !== 'function' || typeof jute.protocol?.RequestHeader !== 'function')
      missing.push('jute Request and protocol.RequestHeader');
    if (typeof jute.protocol?.CheckVersionRequest !== 'function')
      missing.push('jute protocol.CheckVersionRequest');
  } catch {
    missing.push(JUTE_PATH);
  }
  return missing;
}

/**
 * Throws ZkLibraryError (code ZK_LIBRARY_UNSUPPORTED) when the installed node-zookeeper-client lacks a private
 * part used here. A client that connects nowhere is cheap (no socket before connect()), so this runs per session.
 */
export function assertLibraryShape(): void {
  const probe = zookeeper.createClient('127.0.0.1:1');
  const missing = missingParts(probe);
  if (missing.length > 0) throw new ZkLibraryError(missing);
}

interface Entry {
  cm: ConnectionManager;
  stopped: boolean;
  /** True once instrumentClient hooked the reads: readData's replies are taken there. */
  instrumented: boolean;
  /** The bound on the current socket's attempt, from its creation to the handshake's answer. */
  attemptTimer: NodeJS.Timeout | undefined;
}

const managers = new WeakMap<Client, Entry>();

function entryOf(client: Client): Entry {
  let entry = managers.get(client);
  if (!entry) {
    entry = {
      cm: (client as unknown as { connectionManager: ConnectionManager }).connectionManager,
      stopped: false,
      instrumented: false,
      attemptTimer: undefined,
    };
    managers.set(client, entry);
  }
  return entry;
}

/**
 * How long the first socket of a client without a session may wait for the handshake's answer. A ZooKeeper JVM
 * that has bound its port but does not serve yet sometimes accepts a connection and never answers it nor closes
 * it; waiting out a whole share of the session timeout on that socket held a new client seconds after the server
 * began serving. A loopback or LAN handshake takes milliseconds, and a slower server is still reached: each bound
 * given up doubles the next. Giving up early costs nothing there: a late answer makes an orphan session, which
 * expires. A live session's reconnect keeps the whole share: each handshake it gives up is still delivered once a
 * partition heals, and a stale one that reaches the server after the current one costs it its connection.
 */
const FIRST_HANDSHAKE_BOUND_MS = 250;

export interface LinkHooks {
  /** A socket error (the library swallows them). */
  onSocketError(error: Error): void;
  /** Bytes came from the server: any reply, ping answer, watch event or handshake answer. */
  onHeard(): void;
  /**
   * The bound on one round of every server. One server may take min(this, 2/3 of the session timeout) divided
   * by the server count, from its socket's creation to answering the session handshake. Less before the client
   * has a session: its first socket waits FIRST_HANDSHAKE_BOUND_MS, and each socket given up doubles the next
   * one's wait.
   */
  attemptTimeoutMs: number;
}

/**
 * Prepares a fresh client (before connect()). The library binds its socket handlers when it creates each socket,
 * so replacing the instance methods is enough:
 * - Socket errors are reported. The library swallows them and retries a bad host forever without a word
 *   (#51, #69); this is how a connect attempt learns "ECONNREFUSED" instead of only timing out.
 * - Every read from the server is reported, for the liveness watchdog (the library never checks that a ping
 *   is answered), and handed to the library one whole frame at a time (frames.ts): the library copied all the
 *   bytes left in a read once per packet, and kept a cut packet's bytes across a reconnect, in front of the new
 *   socket's handshake answer.
 * - Each socket must reach a session within its bound (see LinkHooks), or it is destroyed and the library tries
 *   the next server, in time for a live session to resume before it expires. The library clears its only timer
 *   once TCP connects, so a server that accepts but never answers the handshake (a JVM still starting, a frozen
 *   one, a black hole) held the connection forever.
 * - The auth packets (and the watch re-registration) go ahead of the requests queued while disconnected. The
 *   library appends them behind those requests, which then ran unauthenticated and failed ZNOAUTH.
 * - Once `stopSockets` has run, the library can open no new socket. Its reconnect waits up to spinDelay in a
 *   timer before it connects again; a close() that lands in that window would otherwise be followed by a new
 *   socket, opened after close() returned.
 */
export function instrumentClient(client: Client, hooks: LinkHooks): void {
  const entry = entryOf(client);
  const { cm } = entry;
  entry.instrumented = true;
  const clearAttempt = () => {
    clearTimeout(entry.attemptTimer);
    entry.attemptTimer = undefined;
  };
  const originalOnError = cm.onSocketError;
  cm.onSocketError = function (this: ConnectionManager, error: Error) {
    hooks.onSocketError(error);
    originalOnError.call(this, error);
  };
  // The handshake bound while the client has no session: it doubles with each socket given up, and is done with
  // (Infinity) once a handshake is answered.
  let noSessionBoundMs = FIRST_HANDSHAKE_BOUND_MS;
  const originalOnData = cm.onSocketData;
  const frames = new FrameSplitter();
  let framesOf: Socket | undefined;
  cm.onSocketData = function (this: ConnectionManager, buffer: Buffer) {
    if (buffer.length > 0) hooks.onHeard();
    const socket = this.socket;
    if (socket?.destroyed === true) return; // a read that was in flight when the library dropped the socket
    // A new socket starts at a frame boundary: bytes cut off on the last one are no part of its stream.
    if (socket !== framesOf) {
      frames.reset();
      framesOf = socket;
    }
    try {
      frames.push(buffer, (frame) => {
        if (!takeDataReply(entry, frame)) originalOnData.call(this, frame);
        // The library may have dropped this socket over the frame (a reply out of order): the rest is void.
        return this.socket === socket && socket?.destroyed !== true;
      });
    } catch (err) {
      // Only the stream's own fault ends the connection (reported as a socket error; the library reconnects).
      // Anything else came from a callback run inside the library's decode, and must not pass for a link fault.
      if (!(err instanceof FrameError)) throw err;
      socket?.destroy(err);
    }
    // Once the handshake is answered the bound is done with: every later read finds no timer to clear.
    if (entry.attemptTimer !== undefined && this.state !== CM_STATES.CONNECTING) {
      clearAttempt();
      noSessionBoundMs = Number.POSITIVE_INFINITY;
    }
  };
  const originalOnConnected = cm.onSocketConnected;
  cm.onSocketConnected = function (this: ConnectionManager) {
    const queued = this.packetQueue.queue.length;
    originalOnConnected.call(this);
    const priming = this.packetQueue.queue.splice(queued);
    this.packetQueue.queue.unshift(...priming);
  };
  const originalFindNext = cm.findNextServer;
  cm.findNextServer = function (this: ConnectionManager, callback: (server: unknown) => void) {
    originalFindNext.call(this, (server: unknown) => {
      if (entry.stopped) return;
      callback(server); // creates this.socket
      const socket = this.socket;
      if (!socket) return;
      coalesceWrites(socket);
      clearAttempt();
      const share = Math.min(hooks.attemptTimeoutMs, (2 * this.sessionTimeout) / 3) / this.servers.length;
      entry.attemptTimer = setTimeout(
        () => {
          if (this.socket !== socket || this.state !== CM_STATES.CONNECTING) return;
          noSessionBoundMs *= 2;
          // The library's TCP-connect timer is for this same socket; left armed, it would destroy the next one.
          if (this.connectTimeoutHandler) clearTimeout(this.connectTimeoutHandler);
          socket.destroy();
        },
        Math.min(share, noSessionBoundMs),
      );
      socket.once('close', clearAttempt);
    });
  };
}

/**
 * The library writes every request with its own socket.write: one syscall and one TCP segment each, which in a
 * resync of thousands of reads cost the bio thread more than their decode. The requests of one turn (a batch
 * started in a loop, and the reads that the replies of one chunk start in their continuations) go out as one
 * writev: the turn's first write corks the socket, and a tick queued with it uncorks once the turn's microtasks
 * have run. A lone request leaves in the same turn, as before. Backpressure is unchanged: write() still says when
 * the buffer is over its mark, and 'drain' follows the flush.
 */
function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}

/** How many servers the connect string names. */
export function serverCount(client: Client): number {
  return entryOf(client).cm.servers.length;
}

/** True while the client holds a socket that is not destroyed (connecting or connected). */
export function hasOpenSocket(client: Client): boolean {
  const { cm } = entryOf(client);
  return cm.socket !== undefined && !cm.socket.destroyed;
}

/** True while the client has a session handshake answered on its current socket. */
export function linkUp(client: Client): boolean {
  const { cm } = entryOf(client);
  const connected = cm.state === CM_STATES.CONNECTED || cm.state === CM_STATES.CONNECTED_READ_ONLY;
  return connected && hasOpenSocket(client);
}

/** Queues a ping, as the library's idle timer does, so the server has something to answer. */
export function sendPing(client: Client): void {
  if (!linkUp(client)) return;
  const jute = requireCjs(JUTE_PATH) as Jute;
  entryOf(client).cm.queue(
    new jute.Request(new jute.protocol.RequestHeader(jute.XID_PING, jute.OP_CODES.PING), null),
  );
}

/**
 * Drops the current connection, as if TCP had failed: the library fails the requests it had sent with
 * CONNECTION_LOSS, reports DISCONNECTED, and connects to the next server with the same session.
 */
export function dropConnection(client: Client): void {
  if (linkUp(client)) entryOf(client).cm.socket?.destroy();
}

/**
 * Closes a client and makes sure its socket is gone within about `boundMs`, whatever the server does (#60).
 *
 * client.close() only queues a CLOSE_SESSION request and waits for the server to drop the connection. With the
 * server down or frozen that never happens: a socket whose TCP connect the kernel accepted for a frozen JVM
 * stays open, and a refused server is retried after spinDelay. So after the bound the socket is destroyed by
 * hand, and no new one may be opened.
 */
export async function closeHard(client: Client, boundMs: number): Promise<'graceful' | 'destroyed'> {
  const entry = entryOf(client);
  const { cm } = entry;
  const stop = () => {
    entry.stopped = true;
    clearTimeout(entry.attemptTimer);
    if (cm.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler);
  };
  if (cm.state === CM_STATES.CLOSED || !hasOpenSocket(client)) {
    stop();
    client.close();
    await destroySocket(cm.socket);
    return 'destroyed';
  }
  let onState: ((state: number) => void) | undefined;
  const closed = new Promise<void>((resolve) => {
    onState = (state) => {
      if (state === CM_STATES.CLOSED) resolve();
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
  stop();
  if (outcome === 'timeout') await destroySocket(cm.socket);
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

const hooked = new WeakSet<Client>();

/** Sends addWatch(path, PERSISTENT_RECURSIVE); `done` gets the server's error (ZUNIMPLEMENTED before 3.6). */
export function addPersistentRecursiveWatch(
  client: Client,
  path: string,
  done: (err: unknown) => void,
): void {
  const jute = requireCjs(JUTE_PATH) as Jute;
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
  entryOf(client).cm.queue(request, done);
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
  const manager = entryOf(client).cm.watcherManager;
  const emit = manager.emit;
  manager.emit = function (this: unknown, event) {
    try {
      onNotification(event.type, event.path);
    } finally {
      // The library's own one-shot watchers (the own node's among them) run whatever the hook did.
      emit.call(this, event);
    }
  };
  hooked.add(client);
}

// ---- getData, read straight from its frame (the subscriptions' reads: thousands in a resync) ----
//
// The library's getData builds a request header, a payload and a Request, runs through async.whilst for retries
// zkbio turns off, and decodes each reply into a ReplyHeader, a GetDataResponse, a Stat of eleven Buffers and a
// Response, which the session then turns into strings. On the bio thread, in a resync of thousands of peers,
// that was a large part of the work. Here the request is written as its frame at once, and its reply is decoded
// from the frame in the read hook (instrumentClient), before the library sees it. The request still goes through
// the library's queues, so its xid, its place among the other requests, and its failure on a lost connection
// (CONNECTION_LOSS, from the library) are the library's.

const OP_GET_DATA = 4;
/** ReplyHeader: length, xid, zxid, err. */
const REPLY_HEADER_BYTES = 20;
/** Stat: six longs, five ints. */
const STAT_BYTES = 68;

type DataAnswer = (err: unknown, value?: { data: string; stat: ZkStat }) => void;

class DataRequest {
  readonly header = { type: OP_GET_DATA, xid: 0 };
  /** None: the library would add its chroot to a payload; the frame below has it already. */
  readonly payload = null;
  readonly #frame: Buffer;

  constructor(
    readonly path: string,
    chroot: string | undefined,
    readonly watcher: ((event: Event) => void) | undefined,
    readonly answer: DataAnswer,
  ) {
    const full = chroot ? `${chroot}${path === '/' ? '' : path}` : path;
    const pathBytes = Buffer.byteLength(full, 'utf8');
    // length, xid, type, path (length, bytes), watch
    const frame = Buffer.allocUnsafe(17 + pathBytes);
    frame.writeInt32BE(13 + pathBytes, 0);
    frame.writeInt32BE(OP_GET_DATA, 8);
    frame.writeInt32BE(pathBytes, 12);
    frame.write(full, 16, 'utf8');
    frame[16 + pathBytes] = watcher ? 1 : 0;
    this.#frame = frame;
  }

  /** Called by the library as it sends, once it has given the request its xid. */
  toBuffer(): Buffer {
    this.#frame.writeInt32BE(this.header.xid, 4);
    return this.#frame;
  }
}

/**
 * getData(path), answered with the data as UTF-8 ('' for none) and the stat; `watcher` arms a data watch, as the
 * library's getData(path, watcher) does. Errors are the library's (Exception, with its code). Only for a client
 * prepared by instrumentClient, whose read hook takes the replies.
 */
export function readData(
  client: Client,
  path: string,
  watcher: ((event: Event) => void) | undefined,
  answer: DataAnswer,
): void {
  const { cm, instrumented } = entryOf(client);
  if (!instrumented)
    throw new ZkbioError('ZK_CLIENT_UNPREPARED', 'readData needs a client prepared by instrumentClient');
  validatePath(path);
  const request = new DataRequest(path, cm.chrootPath, watcher, answer);
  // The library calls this only to fail the request (a lost connection, a closed session): replies are ours.
  cm.queue(request, (err: unknown) =>
    answer(err ?? new Error('getData: the library decoded a reply it should not have')),
  );
}

/**
 * Takes the reply to the oldest pending request when that is a readData one, and answers it; false for any other
 * frame (the library's). A reply too short for what it says it holds is a broken stream (FrameError): its
 * request stays pending, and fails with the connection.
 */
function takeDataReply(entry: Entry, frame: Buffer): boolean {
  const { cm } = entry;
  const head = cm.pendingQueue[0];
  if (!(head?.request instanceof DataRequest) || cm.state === CM_STATES.CONNECTING) return false;
  if (frame.length < REPLY_HEADER_BYTES || frame.readInt32BE(4) !== head.request.header.xid) return false;
  const err = frame.readInt32BE(16);
  let dataBytes = 0;
  if (err === 0) {
    if (frame.length < REPLY_HEADER_BYTES + 4 + STAT_BYTES) throw new FrameError('getData reply cut short');
    dataBytes = Math.max(0, frame.readInt32BE(REPLY_HEADER_BYTES));
    if (frame.length < REPLY_HEADER_BYTES + 4 + dataBytes + STAT_BYTES)
      throw new FrameError(`getData reply cut short: ${dataBytes} data bytes announced`);
  }
  cm.pendingQueue.shift();
  // A copy of its own, as the library's replies bring: a buffer reused across replies would change under a request
  // that took it (a reconnect's handshake sends cm.zxid).
  cm.zxid = Buffer.from(frame.subarray(8, 16));
  const request = head.request;
  if (err !== 0) {
    request.answer(libraryError(err));
    return true;
  }
  const at = REPLY_HEADER_BYTES + 4;
  if (request.watcher) cm.watcherManager.registerDataWatcher(request.path, request.watcher);
  request.answer(null, {
    data: frame.toString('utf8', at, at + dataBytes),
    stat: statAt(frame, at + dataBytes),
  });
  return true;
}

/** The library's error for a server's error code, as its own calls give (code, name, message). */
const libraryError = (code: number): Error =>
  (zookeeper.Exception as unknown as { create(code: number): Error }).create(code);

/** A Stat record (zookeeper.jute's field order), as ZkStat: the zxids and the owner as hex, the times as numbers. */
function statAt(b: Buffer, at: number): ZkStat {
  return {
    czxid: b.toString('hex', at, at + 8),
    mzxid: b.toString('hex', at + 8, at + 16),
    pzxid: b.toString('hex', at + 60, at + 68),
    ctime: longAt(b, at + 16),
    mtime: longAt(b, at + 24),
    version: b.readInt32BE(at + 32),
    cversion: b.readInt32BE(at + 36),
    aversion: b.readInt32BE(at + 40),
    ephemeralOwner: b.toString('hex', at + 44, at + 52),
    dataLength: b.readInt32BE(at + 52),
    numChildren: b.readInt32BE(at + 56),
  };
}

/** A signed 64-bit big-endian integer as a number (exact below 2^53: times in ms). */
const longAt = (b: Buffer, at: number): number => b.readInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4);
