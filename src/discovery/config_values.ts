// Checks and message helpers shared by every part of the config: the value kinds (integers, booleans, one-of,
// the digest secret) and how a given value is quoted in a message.
import { ConfigError } from '../errors.js';

/** Digest credentials from `zookeeper.auth` ("user:password", split at the first ":"). Never log this. */
export interface ZkAuth {
  readonly scheme: 'digest';
  readonly user: string;
  readonly password: string;
}

export type Obj = Record<string, unknown>;

/** An own property only: a config key must never resolve to something inherited, such as `constructor`. */
export function own(obj: Obj, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** Quotes a given string for a message: escaped, and cut short so a pasted blob does not flood the log. */
export function quote(s: string): string {
  const cut = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += `\\${cut[i]}`;
    else if (refusedByZk(c)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += cut[i];
  }
  return `"${out}"`;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** What the config held, for a message. Never use it for a secret. */
export function given(v: unknown): string {
  if (v === undefined) return 'it is missing';
  if (typeof v === 'string') return `got ${quote(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `got ${String(v)}`;
  return `got ${kind(v)}`;
}

/** The characters ZooKeeper's PathUtils refuses in a path, as UTF-16 code units (so any astral character). */
function refusedByZk(c: number): boolean {
  return c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0;
}

export function refusedCharProblem(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (refusedByZk(c)) {
      const code = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
      return `contains ${code} at index ${i}, which ZooKeeper refuses in paths (control, surrogate, private-use and U+FFF0..U+FFFF characters)`;
    }
  }
  return undefined;
}

export function int(
  v: unknown,
  field: string,
  min: number,
  max: number,
  fallback: number | undefined,
  unit: string,
): number {
  const expect = `an integer from ${min} to ${max}${unit}`;
  if (v === undefined) {
    if (fallback === undefined) throw new ConfigError(field, `is required: ${expect}`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be ${expect}; ${given(v)}`);
  }
  return v;
}

export function ringBytes(v: unknown, field: string, fallback: number): number {
  const n = int(v, field, 4096, 1 << 28, fallback, ' bytes, a power of two');
  // A power of two lets the ring wrap its indices with a mask.
  if ((n & (n - 1)) !== 0)
    throw new ConfigError(field, `must be a power of two, such as ${fallback}; ${given(v)}`);
  return n;
}

export function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ConfigError(field, `must be true or false; ${given(v)}`);
  return v;
}

export function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(field, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}; ${given(v)}`);
  }
  return v as T;
}

/** A digest identity as ZooKeeper's addAuthInfo takes it: "user:password". */
export function authString(auth: ZkAuth): string {
  return `${auth.user}:${auth.password}`;
}

/** "user:password" for the digest scheme. Messages describe the shape only: the value is a secret. */
export function digestAuth(v: unknown, field: string): ZkAuth | null {
  if (v === undefined) return null;
  const expect = 'must be a "user:password" string (digest scheme)';
  if (typeof v !== 'string') throw new ConfigError(field, `${expect}; got ${kind(v)} (value not shown)`);
  const colon = v.indexOf(':');
  const user = colon < 0 ? '' : v.slice(0, colon);
  const password = colon < 0 ? '' : v.slice(colon + 1);
  const problem =
    colon < 0
      ? 'has no ":"'
      : user === ''
        ? 'has an empty user'
        : password === ''
          ? 'has an empty password'
          : [...v].some((c) => c < ' ' || c === '\u007f')
            ? 'contains a control character'
            : undefined;
  if (problem) throw new ConfigError(field, `${expect}: the given value ${problem} (value not shown)`);
  return Object.freeze({ scheme: 'digest', user, password });
}
