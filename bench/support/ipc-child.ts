/**
 * A forked helper process driven over IPC, one command at a time: each command gets exactly one reply,
 * `{ ok: true, ... }` or `{ ok: false, error }`, awaited with a bound. close() leaves no child behind
 * (SIGKILL if it does not exit on its own, which also ends a child frozen with SIGSTOP).
 */
import { type ChildProcess, fork } from 'node:child_process';

const EXIT_WAIT_MS = 2000;

export type IpcReply = { ok: true } | { ok: false; error: string };

export class IpcChild<Command extends { op: string }> {
  readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(script: URL, execArgv: string[] = []) {
    this.child = fork(script, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  /** Sends one command and waits at most `timeoutMs` for its reply; a refusal (`ok: false`) throws. */
  async request<Reply extends { ok: true }>(cmd: Command, timeoutMs: number): Promise<Reply> {
    let timer: NodeJS.Timeout | undefined;
    let onMessage: ((reply: Reply | IpcReply) => void) | undefined;
    let onExit: (() => void) | undefined;
    try {
      const reply = await new Promise<Reply | IpcReply>((resolve, reject) => {
        onMessage = resolve;
        onExit = () => reject(new Error(`${this.name()} exited during ${cmd.op}`));
        timer = setTimeout(
          () => reject(new Error(`${this.name()}: ${cmd.op} took over ${timeoutMs} ms`)),
          timeoutMs,
        );
        this.child.once('message', onMessage);
        this.child.once('exit', onExit);
        // With a callback, a child already gone is this request's error, not an unhandled 'error' event.
        this.child.send(cmd, (err) => {
          if (err) reject(err);
        });
      });
      if (!reply.ok) throw new Error(`${this.name()}: ${cmd.op} failed: ${reply.error}`);
      return reply as Reply;
    } finally {
      clearTimeout(timer);
      if (onMessage) this.child.off('message', onMessage);
      if (onExit) this.child.off('exit', onExit);
    }
  }

  /** Disconnecting tells the child to clean up and exit; a child that hangs is killed. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.disconnect();
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      this.exited.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), EXIT_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!gone) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private name(): string {
    return `child ${this.child.pid}`;
  }
}

/**
 * The child's side: when forked with an IPC channel, answers each command with `handle`'s reply, or with
 * `{ ok: false, error }` when it throws, and runs `onDisconnect` (by default: exit) once the parent is gone.
 */
export function serveCommands<Command>(
  handle: (cmd: Command) => Promise<unknown>,
  onDisconnect: () => void = () => process.exit(0),
): void {
  if (!process.send) return;
  process.on('message', (cmd: Command) => {
    handle(cmd).then(
      (reply) => process.send?.(reply),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }),
    );
  });
  process.on('disconnect', onDisconnect);
}
