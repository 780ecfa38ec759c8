// zkbio's logger: pino JSON lines, with credentials redacted wherever a config or an auth string gets logged.
import { type DestinationStream, type Logger, pino } from 'pino';

/** pino's levels, in the order of decreasing severity; `silent` turns logging off. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Paths whose values are replaced by "[redacted]". `auth` is the "user:password" digest string (or its parsed
 * form); the explicit `config.zookeeper.auth` covers the usual `log.info({ config })`, the wildcards cover a
 * config or a credential logged one or two levels down.
 */
export const REDACT_PATHS: readonly string[] = [
  'auth',
  '*.auth',
  '*.*.auth',
  'config.zookeeper.auth',
  'password',
  '*.password',
  '*.*.password',
];

export interface LoggerOptions {
  /** Default "info". */
  level?: LogLevel;
  /** Written as `name` on every line. Default "zkbio". */
  name?: string;
  /** Fields written on every line, e.g. `{ node: '/kimserver/nodes/gate/…' }`. Redacted like any other. */
  bindings?: Record<string, unknown>;
  /** Where lines go. Default: stdout. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    name: opts.name ?? 'zkbio',
    level: opts.level ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
  const root = opts.destination ? pino(options, opts.destination) : pino(options);
  return opts.bindings ? root.child(opts.bindings) : root;
}
