// ZkClient set-up shared by the integration and fault tests: a kimserver-style config pointed at a test
// ensemble, clients that are remembered so after() can stop every one, and a logger whose lines are kept.
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { parseConfig, type ZkbioConfig } from '../../src/discovery/config.js';
import { ZkClient, type ZkClientOptions } from '../../src/discovery/zk_client.js';
import { createLogger, type LogLevel } from '../../src/log.js';
import type { ZkHandlerOptions } from '../../src/zk/handler.js';

/** A gate node at 127.0.0.1:3355 subscribing to gate and logic; `extra` and `zookeeper` override fields. */
export function gateConfig(
  servers: string,
  extra: Record<string, unknown> = {},
  zookeeper: Record<string, unknown> = {},
): ZkbioConfig {
  return parseConfig({
    server_name: 'kimserver',
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: 3355,
    worker_cnt: 2,
    ...extra,
    zookeeper: {
      servers,
      session_timeout: 4000,
      nodes: { root: '/kimserver/nodes', subscribe_node_type: ['gate', 'logic'] },
      payload: { root: '/kimserver/payload' },
      log_level: 'silent',
      ...zookeeper,
    },
  });
}

/** Options for the ZooKeeper handler run without a ZkClient (a Bio of its own, or in-process). */
export function handlerOptions(
  servers: string,
  sessionTimeoutMs = 4000,
  persistentWatches = true,
): ZkHandlerOptions {
  return {
    servers,
    sessionTimeoutMs,
    connectTimeoutMs: 5000,
    callTimeoutMs: 5000,
    auth: null,
    vnodeCount: 200,
    maxNodeBytes: 65536,
    maxPointBytes: 1 << 20,
    persistentWatches,
  };
}

/** Starts ZkClients and stops them all in after(). */
export class Clients {
  private readonly all: ZkClient[] = [];

  /** Starts a client; by default waits until it is registered and has listed every type. */
  async start(
    config: ZkbioConfig,
    opts: ZkClientOptions & { ready?: boolean; readyMs?: number } = {},
  ): Promise<ZkClient> {
    const client = new ZkClient(config, { logger: createLogger({ level: 'silent' }), ...opts });
    this.all.push(client);
    await client.start();
    if (opts.ready !== false) await client.ready(opts.readyMs ?? 15_000);
    return client;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop()));
  }
}

export interface CapturedLog {
  logger: Logger;
  /** Every line so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Every line so far, raw. */
  text(): string;
}

/** A zkbio logger (redaction included) whose JSON lines are kept in memory. */
export function captureLog(level: LogLevel = 'debug'): CapturedLog {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return {
    logger: createLogger({ level, destination }),
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => raw.join('\n'),
  };
}

/**
 * The path of `client`'s next `registered` event. Past `ms` it fails with the client's state and the last lines
 * of `log` (the client's captured logger), so a registration that never comes is a failure to read, not a hang.
 */
export async function nextRegistered(client: ZkClient, log: CapturedLog, ms = 15_000): Promise<string> {
  try {
    const [path] = await once(client, 'registered', { signal: AbortSignal.timeout(ms) });
    return path as string;
  } catch (err) {
    const tail = log.text().split('\n').slice(-40).join('\n');
    throw new Error(
      `no 'registered' event within ${ms} ms: state ${client.state}, self ${client.self}, healthy ${client.healthy}; last log lines:\n${tail}`,
      { cause: err },
    );
  }
}
