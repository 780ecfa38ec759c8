// Runs `zkbio node` as a real child process (bin/zkbio.js, as a user would) and talks to its status port.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src/cli/zk_server.js';

const BIN = fileURLToPath(new URL('../../../bin/zkbio.js', import.meta.url));

/** One free loopback port. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

export function writeConfig(config: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'zkbio-cfg-')), 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface HttpReply {
  status: number;
  body: string;
  /** The body parsed as JSON; the caller names what it expects. */
  json<T = Record<string, unknown>>(): T;
}

/** One GET on a fresh connection, so the cluster hands each request to the next worker. */
export function httpGet(port: number, path: string, timeoutMs = 3000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, json: <T>() => JSON.parse(body) as T }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface CliNode {
  proc: ChildProcess;
  port: number;
  /** Every log line and stderr line so far. */
  output: string[];
  get(path: string): Promise<HttpReply>;
  /** Sends SIGTERM and resolves with the exit code (SIGKILL after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

export async function startCliNode(configFile: string, args: string[] = []): Promise<CliNode> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [BIN, 'node', '--config', configFile, '--status', `127.0.0.1:${port}`, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const collect = (d: Buffer) => output.push(...d.toString('utf8').split('\n').filter(Boolean));
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  return {
    proc,
    port,
    output,
    get: (path) => httpGet(port, path),
    async stop(ms = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}

export interface ZkbioProcess {
  proc: ChildProcess;
  /** stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `zkbio ARGS` (bin/zkbio.js) as a user would, collecting its output. */
export function spawnZkbio(args: string[]): ZkbioProcess {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d) => {
    stdout += d;
  });
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  return { proc, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs `zkbio ARGS` to its end; SIGKILL after `ms`. */
export async function runZkbio(
  args: string[],
  ms = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const run = spawnZkbio(args);
  const timer = setTimeout(() => run.proc.kill('SIGKILL'), ms);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr(), ms: Date.now() - started };
}
