import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { parseConfig, type ZkbioConfig } from './config.js';
import { loadConfigFile } from './config_file.js';
import { ZkClient } from './zk_client.js';

export type { BadPeer } from './bad_peers.js';
export { parseConfig, type ZkbioConfig } from './config.js';
export { loadConfigFile } from './config_file.js';
export { type PeerData, type PeerDataReason, parsePeerData } from './peer.js';
export { ZkClient, type ZkClientEvents, type ZkClientOptions } from './zk_client.js';

/**
 * Starts discovery from a config: a kimserver config.json path, its parsed object, or a ZkbioConfig. The
 * config is validated first (ConfigError names the bad field); the bio thread then starts and the session
 * connects in the background, retrying while ZooKeeper is unreachable. Await `client.ready()` to wait until
 * the node is registered and every subscribed type has been read once.
 */
export async function startDiscovery(
  config: string | ZkbioConfig | Record<string, unknown>,
  opts: { logger?: Logger; metrics?: Metrics } = {},
): Promise<ZkClient> {
  const parsed =
    typeof config === 'string' ? loadConfigFile(config) : isParsed(config) ? config : parseConfig(config);
  const client = new ZkClient(parsed, opts);
  await client.start();
  return client;
}

function isParsed(c: ZkbioConfig | Record<string, unknown>): c is ZkbioConfig {
  return typeof c.serverName === 'string' && typeof c.bio === 'object';
}
