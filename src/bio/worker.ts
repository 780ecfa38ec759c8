/**
 * The bio thread: one long-lived piscina task. It takes tasks off the task ring one at a time, awaits the
 * handler on each ("blocking-style": the next task starts only when this one is done), and writes exactly one
 * ack per task. On stop it finishes the task in flight, acks the queued ones as Cancelled and closes the handler.
 * Events the handler emits on its own (ctx.emit; the ZooKeeper handler's watch-driven node changes) go through
 * the same AckWriter, so they and the acks reach the main side in the one order they were written.
 */
import { type BioRecord, decode } from '../ring/codec.js';
import { ByteRing } from '../ring/ring.js';
import { AckWriter } from './ack_writer.js';
import { ForwardingLogger } from './bio_logger.js';
import { BioError, type BioHandlerFactory, type BioWorkerData, bioErrorName, Control } from './protocol.js';

/** How long an idle worker sleeps before re-checking the stop word on its own. */
const IDLE_WAIT_MS = 1000;

export default async function runBio(data: BioWorkerData): Promise<void> {
  const tasks = new ByteRing(data.taskSab);
  const acks = new AckWriter(new ByteRing(data.ackSab));
  const control = new Int32Array(data.controlSab);
  // Handler events and the thread's log lines alike: records with id 0, in order with the acks.
  const emit = (event: BioRecord): void => {
    event.id = 0;
    void acks.write(event);
  };
  // Atomics.waitAsync keeps no thread alive (nodejs/node#44729): this ref'd timer does while the loop waits.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const logger = ForwardingLogger.create(data.logLevel, { thread: 'bio' }, emit);
  const factory = ((await import(data.handler)) as { default: BioHandlerFactory }).default;
  const handler = await factory({
    options: data.handlerOptions,
    emit,
    isStopping: () => Atomics.load(control, Control.STOP) === 1,
    logger,
  });
  Atomics.store(control, Control.READY, 1);
  let task: BioRecord | null = null;
  const take = (buf: Buffer, off: number, len: number) => {
    task = decode(buf, off, len);
  };
  try {
    while (Atomics.load(control, Control.STOP) === 0) {
      task = null;
      if (tasks.drain(1, take) === 0) {
        await tasks.waitForData(IDLE_WAIT_MS);
        continue;
      }
      const t = task as unknown as BioRecord;
      try {
        await handler.processCmd(t);
      } catch (err) {
        t.error = BioError.HandlerError;
        t.errName = err instanceof Error ? err.name : bioErrorName[BioError.HandlerError];
        t.result = err instanceof Error ? err.message : String(err);
        logger.error({ err, cmd: t.cmd, path: t.path }, 'bio handler threw');
      }
      await acks.write(t);
    }
    tasks.drain(Number.MAX_SAFE_INTEGER, (buf, off, len) => {
      const t = decode(buf, off, len);
      t.error = BioError.Cancelled;
      t.errName = bioErrorName[BioError.Cancelled];
      void acks.write(t);
    });
  } finally {
    try {
      await handler.close();
    } finally {
      await acks.drained();
      clearInterval(keepAlive);
    }
  }
}
