// Reading config.json: a capped read (a mistaken path fails fast), a BOM tolerated, and a JSON syntax error
// located by line and column without quoting the source, which may hold the auth password.
import { closeSync, openSync, readSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { parseConfig, type ZkbioConfig } from './config.js';
import { quote } from './config_values.js';

/** The pseudo-field for errors about the file itself (unreadable, too big, not JSON). */
export const FILE_FIELD = '(file)';

const MAX_FILE_BYTES = 1 << 20;

/**
 * Reads and validates a config.json file. Errors about the file itself (missing, unreadable, over 1 MiB,
 * not JSON) use the field "(file)" and give the JSON error's line and column.
 */
export function loadConfigFile(path: string): ZkbioConfig {
  const text = readCapped(path).replace(/^\uFEFF/, ''); // editors on Windows like to prepend a BOM
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's message can quote the source around the error, auth password included: locate it ourselves.
    const err = findJsonError(text);
    const where = err ? ` at line ${lineCol(text, err.at)}: ${err.reason}` : '';
    throw new ConfigError(FILE_FIELD, `${quote(path)} is not valid JSON${where}`);
  }
  return parseConfig(raw);
}

// Reads at most MAX_FILE_BYTES + 1 bytes, so that a mistaken path (a log, /dev/zero) fails fast, while pipes
// such as `--config <(gen-config)` still work.
function readCapped(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ConfigError(FILE_FIELD, `${quote(path)} cannot be opened: ${ioReason(e)}`);
  }
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      n += r;
      if (r === 0 || n === buf.length) break;
    }
    if (n > MAX_FILE_BYTES) {
      throw new ConfigError(
        FILE_FIELD,
        `${quote(path)} is larger than ${MAX_FILE_BYTES} bytes: not a config file?`,
      );
    }
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(FILE_FIELD, `${quote(path)} cannot be read: ${ioReason(e)}`);
  } finally {
    closeSync(fd);
  }
}

function ioReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  return (code && known[code]) ?? code ?? String(e);
}

function lineCol(text: string, at: number): string {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `${line}, column ${at - before.lastIndexOf('\n')}`;
}

class JsonSyntax {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}

/** Offset and reason of the first syntax error in text; undefined if none is found (or nesting is absurd). */
function findJsonError(text: string): JsonSyntax | undefined {
  let i = 0;
  // Hand-edited configs most often break on comments and single quotes: say so.
  const fail = (reason: string): never => {
    const c = text[i];
    const hint = c === '/' || c === '#' ? ' (JSON has no comments)' : c === "'" ? ' (use double quotes)' : '';
    throw new JsonSyntax(i, reason + hint);
  };
  const unexpected = (): never =>
    fail(i >= text.length ? 'unexpected end of input' : `unexpected ${quote(text[i])}`);
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (c: string, reason: string) => {
    ws();
    if (text[i] !== c) fail(reason);
    i++;
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('raw control character in a string (escape it)');
      if (c !== 0x5c) i++;
      else if (text[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
      else if ('"\\/bfnrt'.includes(text[i + 1] ?? 'x')) i += 2;
      else fail('bad escape in a string');
    }
    i++;
  };
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const scalar = () => {
    if (text[i] === '"') {
      string();
      return;
    }
    const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
    number.lastIndex = i;
    if (word) i += word.length;
    else if (number.test(text)) i = number.lastIndex;
    else unexpected();
  };
  const value = (depth: number): void => {
    if (depth > 1000) throw new JsonSyntax(-1, 'nested too deeply to locate the error');
    ws();
    const open = text[i];
    if (open !== '{' && open !== '[') {
      scalar();
      return;
    }
    const close = open === '{' ? '}' : ']';
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (let first = true; ; first = false) {
      ws();
      if (!first && text[i] === close) fail('trailing comma');
      if (close === '}') {
        if (text[i] !== '"') fail('expected a double-quoted property name');
        string();
        expect(':', 'expected ":"');
      }
      value(depth + 1);
      ws();
      if (text[i] === close) break;
      expect(',', `expected "," or "${close}"`);
    }
    i++;
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    if (e instanceof JsonSyntax && e.at >= 0) return e;
    return undefined;
  }
}
