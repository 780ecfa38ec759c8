// What the two halves of the Bio agree on, besides the rings: the control words and the Bio's own error codes.
import type { BioRecord } from '../ring/codec.js';

/** Error codes the Bio itself puts in an ack (ZooKeeper's own codes are small negatives; these stay clear of them). */
export const BioError = {
  /** The worker thread died with the task queued or in flight. */
  WorkerCrashed: -900,
  /** stop() came before the task ran. */
  Cancelled: -901,
  /** The handler threw. errName carries the error's name. */
  HandlerError: -902,
  /**
   * The ack or event could never fit in the ack ring (a peer's data or a listing larger than half the ring):
   * it crosses with its path only, result = its size, so that it is still acked, once, as a failure.
   */
  RecordTooLarge: -903,
} as const;

export const bioErrorName: Record<number, string> = {
  [BioError.WorkerCrashed]: 'WorkerCrashed',
  [BioError.Cancelled]: 'Cancelled',
  [BioError.HandlerError]: 'HandlerError',
  [BioError.RecordTooLarge]: 'RecordTooLarge',
};

/**
 * cmd of an event record that carries one log line of the bio thread (bio_logger.ts): errName = its level,
 * value = the JSON of its fields, values = the names of those that were Errors, result = its message. The Bio
 * logs it on the main thread and hands it to no processAck; handlers keep their cmds below it.
 */
export const BIO_LOG_CMD = 255;

/** The levels a bio-thread line can have, with pino's numbers (the thread loads no pino to ask). */
export const BIO_LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type BioLogLevel = keyof typeof BIO_LOG_LEVELS;

export function isBioLogLevel(name: string): name is BioLogLevel {
  return Object.hasOwn(BIO_LOG_LEVELS, name);
}

/** What bio-thread code logs through: pino's calls, `(fields, message)`, and child(); a pino Logger is one. */
export interface BioLogger {
  child(bindings: Record<string, unknown>): BioLogger;
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
}

/** Int32 words of the control SharedArrayBuffer. */
export const Control = {
  /** Set to 1 by the main side to ask the worker to finish its task in flight and stop. */
  STOP: 0,
  /** Set to 1 by the worker once its handler is ready. */
  READY: 1,
  WORDS: 16,
} as const;

/** What the main side hands the worker's long-lived piscina task. */
export interface BioWorkerData {
  taskSab: SharedArrayBuffer;
  ackSab: SharedArrayBuffer;
  controlSab: SharedArrayBuffer;
  /** URL of the handler module; its default export is a BioHandlerFactory. */
  handler: string;
  handlerOptions: unknown;
  logLevel: string;
}

export interface BioHandlerContext {
  options: unknown;
  /** Writes an event (a record with id 0) into the ack stream, in order with the acks. */
  emit(event: BioRecord): void;
  /** True once stop() was asked: a handler that retries (e.g. connecting) gives up then. */
  isStopping(): boolean;
  /** Its lines reach the main thread's logger in order with the acks (bio_logger.ts). */
  logger: BioLogger;
}

/**
 * The worker-side half that does the real work. processCmd fills the task's result fields (error, errName,
 * result, values); the Bio writes the ack when it returns. Events it emits before returning reach the main
 * side before the ack.
 */
export interface BioHandler {
  processCmd(task: BioRecord): Promise<void> | void;
  close(): Promise<void> | void;
}

export type BioHandlerFactory = (ctx: BioHandlerContext) => BioHandler | Promise<BioHandler>;
