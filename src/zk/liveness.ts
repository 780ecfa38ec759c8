// The connection's liveness, judged by the client as the Java client, kazoo and Curator do: by how long the
// server has been silent, whatever TCP says. A silent partition (no FIN, no RST) otherwise looks healthy until
// TCP gives up, about 15 minutes on Linux; meanwhile the server expires the session and drops our nodes.
//
// With T the negotiated session timeout, measured from the last bytes the server sent:
// - T/3 of silence on a live link: ping, so an idle healthy link always has an answer on the way;
// - 2/3 T: the link is dead; drop it (the library reconnects, to the next server, with the same session);
// - T without a live link: the server has expired the session by now, or will as soon as it hears from us,
//   so nothing it holds for us (ephemeral nodes, watches) may be claimed: the session is lost.
import { monoNow } from '../clock.js';

export interface LivenessLink {
  /** The negotiated session timeout, ms. */
  sessionTimeoutMs(): number;
  /** A session handshake is answered on the current socket. */
  up(): boolean;
  ping(): void;
  drop(silentMs: number): void;
  lost(silentMs: number): void;
}

/** Below this a re-check is not worth a timer. */
const MIN_CHECK_MS = 10;

export class LivenessWatchdog {
  private lastHeard = monoNow();
  private pinged = false;
  private lostReported = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly link: LivenessLink) {}

  /** Starts watching; the link counts as heard from now. */
  start(): void {
    this.heard();
    this.schedule(this.link.sessionTimeoutMs() / 3);
  }

  /** The server sent bytes. Called for every read, so it only stores. */
  heard(): void {
    this.lastHeard = monoNow();
    this.pinged = false;
    this.lostReported = false;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    // Judged in setImmediate, after the poll phase: bytes that arrived while the loop was busy (or the
    // process frozen) are read first, so a late timer never condemns a link whose answer is already here.
    this.timer = setTimeout(() => setImmediate(() => this.check()), Math.max(MIN_CHECK_MS, ms));
  }

  private check(): void {
    if (this.stopped) return;
    const t = this.link.sessionTimeoutMs();
    const silent = monoNow() - this.lastHeard;
    if (this.link.up()) {
      if (silent >= (2 * t) / 3) {
        this.link.drop(silent);
        this.schedule(MIN_CHECK_MS);
        return;
      }
      if (silent >= t / 3 && !this.pinged) {
        this.pinged = true;
        this.link.ping();
      }
    } else if (silent >= t && !this.lostReported) {
      this.lostReported = true;
      this.link.lost(silent);
    }
    const next = [t / 3, (2 * t) / 3, t].find((at) => at > silent) ?? silent + t / 3;
    this.schedule(next - silent);
  }
}
