/**
 * Peer data: the JSON a server writes into its registration znode, kimserver's layout
 * `{path, type, host, port, worker_cnt, active_time}` (port as a string or a number). Anything else is
 * refused with a reason, never thrown: bad data from one peer must not stop discovery of the others.
 */
import { validateZkNode, type ZkNode } from '../nodes/validate.js';

export type PeerDataReason = 'empty' | 'too_large' | 'not_json' | 'invalid';
export type PeerData = { ok: true; node: ZkNode } | { ok: false; reason: PeerDataReason; detail: string };

/**
 * A peer registering the kimserver way (zkbio does too): its node created empty, the JSON set once its path is
 * known. Empty data never written since the create is no bad data, only data not there yet; a data watch
 * brings the JSON. Emptied later (version above 0), it is bad data.
 */
export function stillRegistering(data: string, version: number): boolean {
  return data.length === 0 && version === 0;
}

/**
 * Parses the data of the znode at `path`, a child of the `type` folder. The table is keyed by the znode's
 * real path, whatever the JSON says; its `type` must match the folder's.
 */
export function parsePeerData(path: string, type: string, data: string, maxBytes: number): PeerData {
  if (data.length === 0) return { ok: false, reason: 'empty', detail: 'the node has no data' };
  const bytes = Buffer.byteLength(data, 'utf8');
  if (bytes > maxBytes) {
    return {
      ok: false,
      reason: 'too_large',
      detail: `${bytes} bytes of data, more than the ${maxBytes} allowed`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (err) {
    return { ok: false, reason: 'not_json', detail: `data is not JSON: ${(err as Error).message}` };
  }
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    const claimed = (json as { type?: unknown }).type;
    if (typeof claimed === 'string' && claimed !== type) {
      return {
        ok: false,
        reason: 'invalid',
        detail: `type "${claimed}" does not match its folder "${type}"`,
      };
    }
    json = { ...json, path, type };
  }
  const check = validateZkNode(json);
  return check.ok ? check : { ok: false, reason: 'invalid', detail: check.reason };
}
