// zkbio's public API. Discovery first (what a server embeds), then the pieces it is made of.

export {
  Bio,
  BioError,
  type BioHandler,
  type BioHandlerContext,
  type BioHandlerFactory,
  type BioOptions,
  BioStoppedError,
} from './bio/index.js';
export * from './cluster/index.js';
export * from './discovery/index.js';
export * from './errors.js';
export { createLogger, type LoggerOptions, type LogLevel } from './log.js';
export { createMetrics, type Metrics, SESSION_STATES, type SessionState } from './metrics.js';
export * from './nodes/index.js';
export type { BioRecord } from './ring/codec.js';
export { ByteRing } from './ring/ring.js';
