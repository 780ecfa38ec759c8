/**
 * A finished node change as it crosses the ack ring (EV_NODE_SET), built on the bio thread and read on the main
 * thread: the node's checked fields as strings, and its ring points as the record's binary words. The main side
 * parses no JSON and runs no MD5: it turns the fields into a ZkNode and the words into one Uint32Array per worker.
 */
import type { ZkNode } from '../nodes/validate.js';
import { type BioRecord, newRecord } from '../ring/codec.js';
import { Cmd } from './commands.js';

/**
 * The record for `node`; `points` holds every member's points, worker 1 first, each `vnodePoints(memberId(host,
 * port, i), vnodeCount)`, concatenated, or is empty when they are left to the main side (a record too large).
 */
export function nodeSetRecord(node: ZkNode, points: Uint32Array): BioRecord {
  const r = newRecord(Cmd.EV_NODE_SET, node.path, '', [
    node.type,
    node.host,
    String(node.port),
    String(node.worker_cnt),
    String(node.active_time),
  ]);
  if (points.length > 0) r.words = points;
  return r;
}

export interface NodeSet {
  node: ZkNode;
  /** One array per worker index 1..worker_cnt; undefined when the bio thread sent none. */
  memberPoints: Uint32Array[] | undefined;
}

/** Reads an EV_NODE_SET record; undefined when it is not one (the table validates the node itself). */
export function readNodeSet(r: BioRecord): NodeSet | undefined {
  if (r.values.length !== 5) return undefined;
  const [type, host, port, workers, activeTime] = r.values;
  const node: ZkNode = {
    path: r.path,
    type,
    host,
    port: Number(port),
    worker_cnt: Number(workers),
    active_time: Number(activeTime),
  };
  return { node, memberPoints: splitPoints(r.words, node.worker_cnt) };
}

function splitPoints(words: Uint32Array | undefined, workers: number): Uint32Array[] | undefined {
  if (words === undefined || !Number.isInteger(workers) || workers < 1 || words.length % workers !== 0)
    return undefined;
  const each = words.length / workers;
  const out: Uint32Array[] = [];
  for (let i = 0; i < workers; i++) out.push(words.subarray(i * each, (i + 1) * each));
  return out;
}
