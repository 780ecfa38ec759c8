// The backoff of discovery's own retries (a registration, a type's resync, a session that could not open).

const RETRY_MIN_MS = 200;
/** The longest wait between two tries. */
export const RETRY_MAX_MS = 5000;

/** The wait before the next try after `failures` failures in a row: 200 ms, doubling, at most RETRY_MAX_MS. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_MIN_MS * 2 ** failures, RETRY_MAX_MS);
}
