/**
 * The main-thread half of the Bio pair (kimserver's bio.c, with rings instead of a mutex).
 *
 * addCmdTask() encodes a task into the task ring and returns at once; the bio thread runs tasks one at a
 * time and writes one ack each into the ack ring; the main loop drains at most `maxAcksPerTick` acks per
 * slice into `processAck`, and ends a slice early once it has run `maxSliceMs`. Two drains run together and
 * share those limits: a repeating timer (the backstop, and the only one in timer mode) and, in doorbell mode,
 * a loop woken through Atomics.waitAsync that yields to the event loop (setImmediate) between full slices,
 * so a burst never stalls the server.
 *
 * Exactly one ack per task: `pending` holds every task the worker has not acked yet. When the worker dies,
 * its acks still in the ring are taken first, then every pending task gets a WorkerCrashed ack; on stop(),
 * the queued ones come back Cancelled. Those synthesized acks go through the same drain, in order, after
 * the real ones.
 *
 * An ack that does not decode is handled as a crash (see onCorruptAck): it never throws out of a drain, where
 * it would take the process down.
 *
 * Restart policy: a crashed worker is restarted on fresh rings after 100 ms, doubling to at most 5 s while
 * crashes keep coming; more than `maxRestarts` crashes within `restartWindowMs` and the Bio gives up
 * ('failed'): from then on addCmdTask throws BioStoppedError.
 */
import { EventEmitter } from 'node:events';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import pino, { type Logger } from 'pino';
import { Piscina } from 'piscina';
import { monoNow } from '../clock.js';
import { QueueFullError, ZkbioError } from '../errors.js';
import { type BioRecord, decode, encodedSize, newRecord, tryPushRecord } from '../ring/codec.js';
import { ByteRing } from '../ring/ring.js';
import {
  BIO_LOG_CMD,
  BioError,
  type BioWorkerData,
  bioErrorName,
  Control,
  isBioLogLevel,
} from './protocol.js';

export class BioStoppedError extends ZkbioError {
  constructor(reason: string) {
    super('BIO_STOPPED', `the Bio is not running: ${reason}`);
  }
}

/** An ack in the ring did not decode: the Bio handles it as a crash of the bio thread. */
export class BioCorruptAckError extends ZkbioError {
  constructor(cause: Error) {
    super('BIO_CORRUPT_ACK', `corrupt ack from the bio thread: ${cause.message}`);
    this.cause = cause;
  }
}

export interface BioOptions {
  /** Module run on the bio thread; its default export is a BioHandlerFactory. */
  handler: string | URL;
  /** Passed to the handler factory; must survive structured cloning. */
  handlerOptions?: unknown;
  /** Applies one ack (or worker event, id 0) on the main thread. */
  processAck: (ack: BioRecord) => void;
  /** At most this many acks per drain slice. Default 100, as kimserver. */
  maxAcksPerTick?: number;
  /**
   * A slice also ends once it has run this long, ms (checked between acks: after the first, then every few
   * while they are far cheaper than the time left, see withinSlice). The count alone bounds a slice only while
   * acks are cheap: at 1,000 peers one node-table change costs about 0.5 ms, so a slice of 100 removals held
   * the main loop for ~50 ms (bench/discovery's storm). Default 1.
   */
  maxSliceMs?: number;
  /** Period of the repeating drain timer, ms. Default 1 in timer mode, 10 as the doorbell's backstop. */
  tickMs?: number;
  /**
   * processAck gets an ack's `words` as a view on the ack ring, valid only until it returns, not as a copy: for
   * a consumer that copies what it keeps (the node table copies given points). A copy costs an ArrayBuffer of
   * its own, about 2-3 µs here for a node's points, and the external memory that drives V8's collections.
   * Acks of a dead thread, kept for later, are copies either way. Default false.
   */
  ackWordsView?: boolean;
  /** Called after each drain slice that applied acks, with how long it held the main loop (ms): for metrics. */
  onSlice?: (ms: number) => void;
  /** Wake the main loop through Atomics.waitAsync when acks arrive. Default true (see bench/ack-drain). */
  doorbell?: boolean;
  /** Task ring size in bytes. Default 1 MiB. */
  taskRingBytes?: number;
  /** Ack ring size in bytes. Default 4 MiB. */
  ackRingBytes?: number;
  /** stop() waits this long for the task in flight before it terminates the thread. Default 5000. */
  stopTimeoutMs?: number;
  /** Crashes tolerated within restartWindowMs before the Bio gives up. Default 5 in 60 s. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /**
   * The application's logger. The Bio's own lines carry `component: 'bio'`; the bio thread's lines come through
   * it too, in order with the acks, with `thread: 'bio'` (bio_logger.ts). Its level is the bio thread's.
   */
  logger?: Logger;
}

interface BioEvents {
  /** The worker thread died; its tasks are being acked WorkerCrashed. */
  crash: [err: Error];
  /** A new worker thread is running (after a crash). */
  restart: [restarts: number];
  /** Too many crashes: the Bio has stopped for good. */
  failed: [err: Error];
}

const WORKER_URL = new URL('./worker.js', import.meta.url).href;
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 5000;
/**
 * The bio thread's young generation (V8 splits it in three: two semi-spaces and as much for large objects).
 * A resync of 5,000 peers spent 440 ms of the thread's CPU in scavenges with 3 MB, 150 ms with 8 and 120 ms with
 * 16; the node's RSS, settled, was the same within the noise (a few MB) for all three.
 */
const BIO_YOUNG_GENERATION_MB = 16;

export class Bio extends EventEmitter<BioEvents> {
  readonly maxAcksPerTick: number;
  readonly maxSliceMs: number;
  private readonly opts: BioOptions;
  /** opts.ackWordsView, resolved once: the drain asks for every ack. */
  private readonly wordsInPlace: boolean;
  private readonly logger: Logger;
  /** Where the bio thread's own lines go: the application's logger, with the bindings they bring. */
  private readonly threadLogger: Logger;
  private readonly pool: Piscina;
  private taskRing: ByteRing;
  private ackRing: ByteRing;
  private control = new Int32Array(new SharedArrayBuffer(Control.WORDS * 4));
  /** Tasks the worker has not acked, in id order. */
  private readonly pending = new Map<number, BioRecord>();
  /** Acks taken off a dead worker's ring or made up on the main side; drained before the ring. */
  private backlog: BioRecord[] = [];
  private backlogHead = 0;
  private nextId = 1;
  /** When the drain slice in progress started and must end (monoNow ms), and the acks it has applied. */
  private sliceStarted = 0;
  private sliceDeadline = 0;
  private sliceAcks = 0;
  /** Acks the ring drain applies before it next reads the clock. */
  private uncheckedAcks = 0;
  private generation = 0;
  private crashTimes: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The current generation's doorbell loop: stop() waits for it, so that no wait of it outlives the Bio. */
  private doorbellRun: Promise<void> = Promise.resolve();
  private running = false;
  private deadReason: string | null = 'not started';
  private workerRun: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  /** Set when an ack in the ring did not decode; the slice that met it handles it once the drain is over. */
  private corruptAck: Error | null = null;

  constructor(opts: BioOptions) {
    super();
    this.opts = opts;
    this.maxAcksPerTick = opts.maxAcksPerTick ?? 100;
    this.maxSliceMs = opts.maxSliceMs ?? 1;
    this.wordsInPlace = opts.ackWordsView === true;
    this.threadLogger = opts.logger ?? pino({ level: 'warn' });
    this.logger = this.threadLogger.child({ component: 'bio' });
    this.taskRing = new ByteRing(ByteRing.allocate(opts.taskRingBytes ?? 1 << 20));
    this.ackRing = new ByteRing(ByteRing.allocate(opts.ackRingBytes ?? 4 << 20));
    this.pool = new Piscina({
      filename: WORKER_URL,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      // Our one task runs for the Bio's whole life; piscina's own Atomics.wait would only block that thread.
      atomics: 'disabled',
      // Bounded: the thread keeps little (the folders' children), and the default young generation, grown to
      // 48 MB by a resync of thousands of peers, only kept their garbage resident.
      resourceLimits: { maxYoungGenerationSizeMb: BIO_YOUNG_GENERATION_MB },
    });
  }

  /** Starts the bio thread and resolves when its handler is ready. */
  async start(): Promise<void> {
    if (this.running || this.stopping) throw new ZkbioError('BIO_STARTED', 'Bio.start() called twice');
    this.running = true;
    this.deadReason = null;
    const tickMs = this.opts.tickMs ?? (this.opts.doorbell === false ? 1 : 10);
    this.timer = setInterval(() => this.drainSlice(), tickMs);
    this.launchWorker();
    try {
      await this.waitReady();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Queues a task and returns its id. Never blocks: throws QueueFullError when the task ring has no room
   * (nothing was queued), RecordTooLargeError for a task that could never fit, BioStoppedError after stop().
   */
  addCmdTask(cmd: number, path: string, value = '', values: string[] = []): number {
    if (this.deadReason !== null) throw new BioStoppedError(this.deadReason);
    const task = newRecord(cmd, path, value, values);
    task.id = this.nextId;
    task.createdAt = monoNow();
    if (!tryPushRecord(this.taskRing, task)) {
      throw new QueueFullError(encodedSize(task), this.taskRing.capacity - this.taskRing.usedBytes());
    }
    this.nextId = this.nextId === 0xffffffff ? 1 : this.nextId + 1;
    this.pending.set(task.id, task);
    return task.id;
  }

  /** The largest task, in encoded bytes, that addCmdTask can ever take (half the task ring, less a header). */
  get maxTaskBytes(): number {
    return this.taskRing.maxRecordBytes;
  }

  /** Tasks queued or in flight (not acked by the worker yet). */
  get pendingTasks(): number {
    return this.pending.size;
  }

  /** Bytes waiting in each ring (acks in the backlog are not in a ring). */
  ringUsedBytes(): { task: number; ack: number } {
    return { task: this.taskRing.usedBytes(), ack: this.ackRing.usedBytes() };
  }

  /** Records waiting in the task ring, and acks waiting to be applied. */
  queueDepths(): { tasks: number; acks: number } {
    return {
      tasks: this.taskRing.pendingRecords(),
      acks: this.ackRing.pendingRecords() + this.backlog.length - this.backlogHead,
    };
  }

  /**
   * Asks the worker to finish the task in flight and stop; queued tasks are acked Cancelled. Every ack left is
   * applied before this resolves, and it resolves only after the thread is gone. After stopTimeoutMs the
   * thread is terminated and its unacked tasks are acked Cancelled by the main side.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.deadReason === null) this.deadReason = 'stopped';
    if (this.running) {
      const finished = await this.askToStop(this.control, this.taskRing, this.workerRun);
      if (!finished)
        this.logger.warn(
          { timeoutMs: this.stopTimeoutMs },
          'bio thread did not stop in time: terminating it',
        );
      this.running = false;
    }
    this.generation++;
    await this.pool.destroy();
    if (this.timer) clearInterval(this.timer);
    // The woken loop sees the new generation and ends; its wait settles in a task of its own, after this one.
    this.ackRing.wakeConsumer();
    await this.doorbellRun;
    this.takeRingIntoBacklog();
    this.ackPendingWith(BioError.Cancelled);
    while (this.drainSlice() > 0);
  }

  /**
   * Kills the bio thread the hard way, as a fatal error inside it would: for fault tests only. The Bio then
   * behaves as after any crash (in-flight and queued tasks acked WorkerCrashed, 'crash', restart). A thread
   * that is terminated loses its sockets with it, so a ZooKeeper session it held lingers until it times out.
   */
  terminateWorkerForTesting(): Promise<void> {
    return this.terminateThreads();
  }

  private async terminateThreads(): Promise<void> {
    await Promise.all(this.pool.threads.map((t) => t.terminate()));
  }

  private launchWorker(): void {
    const generation = ++this.generation;
    const data: BioWorkerData = {
      taskSab: this.taskRing.sab,
      ackSab: this.ackRing.sab,
      controlSab: this.control.buffer as SharedArrayBuffer,
      handler: String(this.opts.handler),
      handlerOptions: this.opts.handlerOptions,
      logLevel: this.logger.level,
    };
    const run = this.pool.run(data) as Promise<void>;
    this.workerRun = run.then(
      () => {
        if (generation === this.generation && !this.isStopping())
          this.onWorkerDeath(generation, new Error('bio worker returned'));
      },
      (err: Error) => this.onWorkerDeath(generation, err),
    );
    if (this.opts.doorbell !== false) this.doorbellRun = this.doorbellLoop(generation, this.ackRing);
  }

  private isStopping(): boolean {
    return Atomics.load(this.control, Control.STOP) === 1;
  }

  private async waitReady(): Promise<void> {
    const generation = this.generation;
    while (Atomics.load(this.control, Control.READY) === 0) {
      if (generation !== this.generation || this.deadReason !== null) {
        throw new BioStoppedError(this.deadReason ?? 'the bio thread died while starting');
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  private onWorkerDeath(generation: number, err: Error): void {
    if (generation !== this.generation || this.isStopping()) return;
    this.logger.error({ err, pendingTasks: this.pending.size }, 'bio thread crashed');
    this.generation++; // the dead worker's doorbell loop and callbacks are now stale
    this.ackRing.wakeConsumer();
    this.takeRingIntoBacklog();
    this.ackPendingWith(BioError.WorkerCrashed);

    const now = Date.now();
    const windowMs = this.opts.restartWindowMs ?? 60_000;
    this.crashTimes = this.crashTimes.filter((t) => now - t < windowMs);
    this.crashTimes.push(now);
    const givingUp = this.crashTimes.length > (this.opts.maxRestarts ?? 5);
    if (givingUp) {
      this.deadReason = `the bio thread crashed ${this.crashTimes.length} times in ${windowMs} ms: ${err.message}`;
      this.running = false;
    } else {
      // Fresh rings: the dead thread may have left a half-written record. They are in place before 'crash'
      // is emitted, so a task queued by a crash listener waits for the new thread instead of sitting, never
      // acked, in the dead thread's ring.
      this.taskRing = new ByteRing(ByteRing.allocate(this.taskRing.capacity));
      this.ackRing = new ByteRing(ByteRing.allocate(this.ackRing.capacity));
      this.control = new Int32Array(new SharedArrayBuffer(Control.WORDS * 4));
    }
    this.emit('crash', err);
    if (givingUp) {
      this.logger.error(this.deadReason);
      this.emit('failed', new BioStoppedError(this.deadReason as string));
      void this.stop();
      return;
    }
    const delay = Math.min(RESTART_BASE_MS * 2 ** (this.crashTimes.length - 1), RESTART_MAX_MS);
    setTimeout(() => {
      if (this.deadReason !== null) return;
      this.launchWorker();
      this.waitReady().then(
        () => this.emit('restart', this.crashTimes.length),
        () => {},
      );
    }, delay);
  }

  /**
   * An ack did not decode. Its task cannot be told apart, and the thread that wrote it cannot be trusted, so
   * this is a crash: every pending task is acked WorkerCrashed and a new thread starts on fresh rings. The old
   * thread is still alive: it is asked to stop, which closes its session as stop() would (its ephemeral nodes
   * go at once), and terminated if it has not stopped within stopTimeoutMs. Anything it writes meanwhile goes
   * to the old ack ring, which nobody reads, so no task is acked twice.
   */
  private onCorruptAck(err: Error): void {
    const oldControl = this.control;
    const oldTasks = this.taskRing;
    const oldRun = this.workerRun;
    // The crash first: it drains what the old thread wrote so far, before the stop word makes it ack the rest.
    this.onWorkerDeath(this.generation, new BioCorruptAckError(err));
    void this.askToStop(oldControl, oldTasks, oldRun).then((finished) => {
      if (!finished) void this.terminateThreads();
    });
  }

  private get stopTimeoutMs(): number {
    return this.opts.stopTimeoutMs ?? 5000;
  }

  /**
   * Raises the stop word of a thread and wakes it; resolves true once its run ends, false if it has not within
   * stopTimeoutMs (the caller terminates it).
   */
  private async askToStop(
    control: Int32Array,
    tasks: ByteRing,
    run: Promise<unknown> | null,
  ): Promise<boolean> {
    Atomics.store(control, Control.STOP, 1);
    tasks.wakeConsumer();
    let hardStop: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      (run ?? Promise.resolve()).then(() => true),
      new Promise<false>((resolve) => {
        hardStop = setTimeout(() => resolve(false), this.stopTimeoutMs);
      }),
    ]);
    clearTimeout(hardStop);
    return finished;
  }

  /** Moves every ack in the ring into the backlog, marking its task acked. One that does not decode is skipped. */
  private takeRingIntoBacklog(): void {
    this.ackRing.drain(Number.MAX_SAFE_INTEGER, (buf, off, len) => {
      let ack: BioRecord;
      try {
        ack = decode(buf, off, len);
      } catch (err) {
        // Its task, if it had one, is still pending and gets its ack from ackPendingWith.
        this.logger.error({ err }, 'corrupt ack skipped');
        return;
      }
      this.pending.delete(ack.id);
      this.backlog.push(ack);
    });
  }

  /** Acks every pending task with `error`, in id order, through the backlog. */
  private ackPendingWith(error: number): void {
    for (const task of this.pending.values()) {
      task.error = error;
      task.errName = bioErrorName[error];
      task.doneAt = monoNow();
      this.backlog.push(task);
    }
    this.pending.clear();
  }

  /**
   * One slice: at most maxAcksPerTick acks, the backlog's first, and no more once maxSliceMs has passed.
   * Returns how many were applied.
   */
  private drainSlice(): number {
    const max = this.maxAcksPerTick;
    const started = monoNow();
    this.sliceStarted = started;
    this.sliceDeadline = started + this.maxSliceMs;
    let n = 0;
    while (n < max && this.backlogHead < this.backlog.length && (n === 0 || monoNow() < this.sliceDeadline)) {
      this.apply(this.backlog[this.backlogHead++]);
      n++;
    }
    if (this.backlogHead === this.backlog.length && this.backlogHead > 0) {
      this.backlog = [];
      this.backlogHead = 0;
    }
    if (n < max && (n === 0 || monoNow() < this.sliceDeadline)) {
      this.sliceAcks = n;
      this.uncheckedAcks = 1;
      n += this.ackRing.drain(max - n, this.visitAck);
    }
    if (n > 0) this.opts.onSlice?.(monoNow() - started);
    if (this.corruptAck !== null) {
      const err = this.corruptAck;
      this.corruptAck = null;
      this.onCorruptAck(err);
    }
    return n;
  }

  /**
   * Applies one ack from the ring; false once the slice's time is spent, or at an ack that does not decode,
   * which ends the drain there (handled once the ring has published its head past it).
   */
  private readonly visitAck = (buf: Buffer, off: number, len: number): boolean => {
    let ack: BioRecord;
    try {
      ack = decode(buf, off, len, this.wordsInPlace);
    } catch (err) {
      this.corruptAck = err as Error;
      return false;
    }
    if (ack.id !== 0) this.pending.delete(ack.id);
    this.apply(ack);
    this.sliceAcks++;
    return --this.uncheckedAcks > 0 || this.withinSlice();
  };

  /**
   * Whether the slice has time left, and when to ask again. Reading the clock costs about half as much as
   * decoding a small ack (0.15 µs here), so while four acks at the slice's pace so far take under a quarter of
   * the time left, it is read every four. Acks that turn expensive at once (a listing after many small acks)
   * can then overshoot by three more than with a read after every ack.
   */
  private withinSlice(): boolean {
    const now = monoNow();
    const left = this.sliceDeadline - now;
    if (left <= 0) return false;
    this.uncheckedAcks = (now - this.sliceStarted) * 16 < left * this.sliceAcks ? 4 : 1;
    return true;
  }

  private apply(ack: BioRecord): void {
    if (ack.id === 0 && ack.cmd === BIO_LOG_CMD) {
      this.logThreadLine(ack);
      return;
    }
    try {
      this.opts.processAck(ack);
    } catch (err) {
      // One bad ack must not stop the drain, or every later ack would wait behind it.
      this.logger.error({ err, cmd: ack.cmd, id: ack.id, path: ack.path }, 'processAck threw');
    }
  }

  /** A log line of the bio thread (bio_logger.ts); one the ack ring could not hold comes as RecordTooLarge. */
  private logThreadLine(line: BioRecord): void {
    if (line.error !== 0) {
      this.logger.warn(
        { bytes: Number(line.result) },
        'a bio thread log line was too large for the ack ring',
      );
      return;
    }
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line.value) as Record<string, unknown>;
      // Without a prototype, pino's err serializer takes an error's type from its name, not from Object.
      for (const key of line.values)
        if (typeof fields[key] === 'object' && fields[key] !== null)
          fields[key] = Object.assign(Object.create(null), fields[key]);
    } catch {
      fields = { thread: 'bio', unparsedFields: line.value };
    }
    this.threadLogger[isBioLogLevel(line.errName) ? line.errName : 'warn'](fields, line.result);
  }

  private async doorbellLoop(generation: number, ring: ByteRing): Promise<void> {
    while (generation === this.generation) {
      // After any slice, let the event loop run before the next one: acks that keep trickling in must not
      // chain slices through microtasks and starve the server's own I/O.
      if (this.drainSlice() > 0) await yieldToLoop();
      // No timeout (see waitForData): at 50k wakes/s the timer tasks doubled the main thread's time per ack.
      // No wake is lost (the ring's wake counter), and a stop or a crash wakes the loop (wakeConsumer).
      else await ring.waitForData(Number.POSITIVE_INFINITY);
    }
  }
}
