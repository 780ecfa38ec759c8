/**
 * The Bio pair: tasks from the main thread to the bio thread and acks back, through two SharedArrayBuffer
 * rings, one FIFO each way. The flow as built:
 *
 *   main thread: addCmdTask ─► [task ring] ─► bio thread (worker.ts): one task at a time, awaited in turn,
 *                                             one ack each, written when the handler's processCmd returns
 *   main thread: drain ≤ maxAcksPerTick acks per slice, ≤ maxSliceMs ◄─ [ack ring] ◄─ AckWriter (one writer)
 *                  (a repeating timer, and the Atomics.waitAsync doorbell)
 *   AckWriter rings the doorbell for the first ack of each turn of the bio thread's loop, then once a slice's
 *   worth waits, and at the turn's end: a resync wakes the main thread per slice, not per handful of acks.
 *
 * Besides the acks, the handler writes events (id 0) into the same stream through ctx.emit, whenever it
 * likes: with ZooKeeper (src/zk/handler.ts) they are session events and the finished node changes its
 * subscriptions compute on the bio thread from watch events, in their own FIFO queue there (so a task's ack
 * and the changes it caused keep their order). The main side only applies what comes: see bio.ts for the drain.
 */
export { Bio, type BioOptions, BioStoppedError } from './bio.js';
export { BioError, type BioHandler, type BioHandlerContext, type BioHandlerFactory } from './protocol.js';
