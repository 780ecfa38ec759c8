// A loopback TCP proxy that the tests control, for network faults that killing a server cannot show:
// - pass: bytes flow both ways (after `latencyMs` each way, if set);
// - blackhole: a silent partition: no byte passes either way and nothing is closed. Bytes are held, not dropped,
//   as TCP would retransmit them: if the partition heals before either end gives up, they arrive late. A
//   connection accepted meanwhile (the kernel answers the SYN) reaches the target only after healing;
// - silent: the target's bytes are held, the client's pass: the client hears nothing, the server still hears it;
// - reset: every connection is reset (RST), now and as soon as it is accepted.
// resetAll() resets the connections of the moment once, whatever the mode; cutNextReply() lets a reply through
// in part, then resets.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'silent' | 'reset';
/** After cutNextReply()'s bytes are written, the reset comes this much later. */
const CUT_RESET_MS = 50;

/** One direction of one connection: chunks wait for their due time and for the mode to be `pass`. */
class Direction {
  private readonly held: { due: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private cut = false;

  constructor(
    private readonly proxy: FaultProxy,
    readonly from: Socket,
    private readonly to: Socket,
    /** Bytes from the target to the client (held in `silent` mode too). */
    private readonly toClient: boolean,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.cut) return; // the connection is dying: nothing after the cut gets through
      const cut = toClient ? proxy.takeCut() : undefined;
      if (cut !== undefined) {
        // The connection dies in the middle of this reply: its first bytes arrive, then a reset. The reset
        // waits a little, so that a reset (which drops unsent bytes) cannot take the first bytes with it.
        this.cut = true;
        this.to.write(chunk.subarray(0, cut), () => setTimeout(() => proxy.resetAll(), CUT_RESET_MS));
        return;
      }
      this.held.push({ due: Date.now() + proxy.latencyMs, chunk });
      this.flush();
    });
    from.on('end', () => {
      this.ended = true;
      this.flush();
    });
  }

  /** Whether the mode lets this direction's bytes through. */
  get passes(): boolean {
    return this.proxy.mode === 'pass' || (this.proxy.mode === 'silent' && !this.toClient);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.passes || this.to.destroyed) return;
    const now = Date.now();
    while (this.held.length > 0 && this.held[0].due <= now) this.to.write(this.held.shift()?.chunk as Buffer);
    if (this.held.length > 0) this.timer = setTimeout(() => this.flush(), this.held[0].due - now);
    else if (this.ended) this.to.end();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

class Connection {
  private upstream: Socket | undefined;
  private readonly directions: Direction[] = [];

  constructor(
    private readonly proxy: FaultProxy,
    readonly client: Socket,
  ) {
    client.on('error', () => this.reset());
    client.on('close', () => this.gone());
  }

  /** Connects to the target once the mode lets bytes pass. */
  open(): void {
    if (this.upstream || this.client.destroyed) return;
    const upstream = connect(this.proxy.target.port, this.proxy.target.host);
    this.upstream = upstream;
    upstream.on('error', () => this.reset());
    upstream.on('close', () => this.gone());
    this.directions.push(
      new Direction(this.proxy, this.client, upstream, false),
      new Direction(this.proxy, upstream, this.client, true),
    );
    this.apply();
  }

  /** Pauses or resumes reading with the mode, so held bytes wait in the kernel as in a real partition. */
  apply(): void {
    for (const d of this.directions) {
      if (d.passes) d.from.resume();
      else d.from.pause();
      d.flush();
    }
    if (this.proxy.mode === 'blackhole') this.client.pause();
    else if (!this.upstream) this.open();
  }

  reset(): void {
    for (const s of [this.client, this.upstream]) if (s && !s.destroyed) s.resetAndDestroy();
    this.gone();
  }

  private gone(): void {
    // A side that ended cleanly ends the other once its held bytes are out (Direction); an error resets both.
    if (!this.client.destroyed || !(this.upstream?.destroyed ?? true)) return;
    for (const d of this.directions) d.stop();
    this.proxy.forget(this);
  }
}

export class FaultProxy {
  mode: ProxyMode = 'pass';
  /** Added to every chunk, each way: a round trip takes 2 × latencyMs more. */
  latencyMs = 0;
  private readonly connections = new Set<Connection>();
  /** Connections accepted so far (for tests that count reconnects). */
  accepted = 0;
  private cutAt: number | undefined;

  private constructor(
    private readonly server: Server,
    readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards to `target` ("host:port"). */
  static async start(target: string): Promise<FaultProxy> {
    const [host, port] = target.split(':');
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy: no port');
    const proxy = new FaultProxy(server, { host, port: Number(port) }, addr.port);
    server.on('connection', (socket) => proxy.accept(socket));
    return proxy;
  }

  /** "127.0.0.1:port": the connect string to give the client under test. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Connections open now. */
  get open(): number {
    return this.connections.size;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === 'reset') this.resetAll();
    for (const c of this.connections) c.apply();
  }

  /**
   * The next chunk from the target passes only its first `bytes` bytes, then every connection is reset: a
   * link that dies in the middle of a reply (in pass mode, where nothing is held).
   */
  cutNextReply(bytes: number): void {
    this.cutAt = bytes;
  }

  /** The pending cut, once. */
  takeCut(): number | undefined {
    const cut = this.cutAt;
    this.cutAt = undefined;
    return cut;
  }

  /** Resets every connection open now (RST both ways); new ones are accepted as the mode says. */
  resetAll(): void {
    for (const c of [...this.connections]) c.reset();
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  forget(c: Connection): void {
    this.connections.delete(c);
  }

  private accept(socket: Socket): void {
    this.accepted++;
    socket.setNoDelay(true);
    const c = new Connection(this, socket);
    this.connections.add(c);
    if (this.mode === 'reset') c.reset();
    else c.apply();
  }
}
