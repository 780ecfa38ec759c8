// The node record kimserver writes into each registration znode, checked field by field.
//
// kimserver writes `port` as a string ("3344") and `active_time` as float epoch seconds; zkbio
// writes numbers. Both are accepted, and the record is normalised so that the table, its diffs
// and its snapshots only ever hold one shape.

/** One registration znode's data, normalised. */
export interface ZkNode {
  /** Full znode path, e.g. "/kimserver/nodes/gate/kimserver-gate0000000001". */
  readonly path: string;
  /** Node type, e.g. "gate"; one ketama ring per type. */
  readonly type: string;
  readonly host: string;
  readonly port: number;
  /** Worker processes; each is a ring member "host:port.i", i in 1..worker_cnt. */
  readonly worker_cnt: number;
  /** Registration time, epoch seconds (may be fractional). Newer wins between paths of one host:port. */
  readonly active_time: number;
}

export type ZkNodeCheck = { ok: true; node: ZkNode } | { ok: false; reason: string };

export const MAX_WORKER_CNT = 1024;

function isNonEmptyString(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max;
}

function parsePort(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/** Checks a parsed znode payload (or any value); the refusal reason names the first bad field. */
export function validateZkNode(obj: unknown): ZkNodeCheck {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return { ok: false, reason: 'node must be an object' };
  }
  const o = obj as Record<string, unknown>;
  if (!isNonEmptyString(o.path, 1024) || !o.path.startsWith('/')) {
    return { ok: false, reason: 'path must be a znode path starting with "/"' };
  }
  if (!isNonEmptyString(o.type, 256) || o.type.includes('/')) {
    return { ok: false, reason: 'type must be a non-empty string without "/"' };
  }
  // A member id is "host:port.i", hashed into every point; whitespace would be a typo, not a host.
  if (!isNonEmptyString(o.host, 255) || /\s/.test(o.host)) {
    return { ok: false, reason: 'host must be a non-empty string without spaces (at most 255 chars)' };
  }
  const port = parsePort(o.port);
  if (port === undefined) {
    return { ok: false, reason: 'port must be an integer from 1 to 65535 (number or decimal string)' };
  }
  const workers = o.worker_cnt;
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > MAX_WORKER_CNT) {
    return { ok: false, reason: `worker_cnt must be an integer from 1 to ${MAX_WORKER_CNT}` };
  }
  const activeTime = o.active_time;
  if (typeof activeTime !== 'number' || !Number.isFinite(activeTime) || activeTime < 0) {
    return { ok: false, reason: 'active_time must be a non-negative number (epoch seconds)' };
  }
  return {
    ok: true,
    node: { path: o.path, type: o.type, host: o.host, port, worker_cnt: workers, active_time: activeTime },
  };
}

export function sameZkNode(a: ZkNode, b: ZkNode): boolean {
  return (
    a.path === b.path &&
    a.type === b.type &&
    a.host === b.host &&
    a.port === b.port &&
    a.worker_cnt === b.worker_cnt &&
    a.active_time === b.active_time
  );
}
