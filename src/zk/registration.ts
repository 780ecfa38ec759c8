/**
 * The own-node registration recipe, run on the bio thread against one ZkSession (kept apart from the session,
 * as Curator and kazoo keep their recipes apart from the client).
 *
 * Registering is a reconciliation, not a one-shot create: every run makes ZooKeeper match what this node
 * should look like, whatever happened since the last run (a lost reply, a peer or an operator overwriting or
 * deleting our nodes, a bio thread that died with its session), and reports what it had to put right. Running
 * it again when all is right changes nothing.
 */
import type { ZkAcl } from './acl.js';
import { ZAPIERROR, ZBADVERSION, ZkError, ZNODEEXISTS, ZNONODE, zkErrorCode } from './errors.js';
import { CreateMode, isSequentialChild, type ZkSession } from './session.js';

/** What the main side asks for: the own node and its payload node. */
export interface OwnNodeSpec {
  /** The own node's path without its sequence suffix: `{root}/{type}/{server}-{type}`. */
  prefix: string;
  /** kimserver's JSON fields between `path` and `active_time`, in its key order: type, host, port, worker_cnt. */
  fields: Record<string, unknown>;
  /** `{payload root}/{type}`. */
  payloadFolder: string;
  /** The payload node's data when it has to be created. */
  payload: string;
  /** Where this session's own node was last seen; looked at first, so a run need not list the whole folder. */
  knownPath?: string;
  /** Sessions of this node that died with their bio thread: their nodes are deleted before anything is created. */
  staleSessions?: readonly string[];
}

/** What a run had to put right, in the order it did it. A first registration reports nothing. */
export type OwnNodeRepair =
  /** Nodes of a session that died with the bio thread were deleted (it would linger for a session timeout). */
  | 'stale_session'
  /** The own node this session had registered was gone (deleted from outside): it was created again. */
  | 'recreated'
  /** The own node's data was not its JSON (overwritten from outside, or a run cut short): written back. */
  | 'data'
  /** The payload node was missing: created again. */
  | 'payload'
  /** Payload nodes of this session's earlier own nodes were left over: deleted. */
  | 'stale_payload';

export interface OwnNodeResult {
  /** The own node's full path. */
  path: string;
  repairs: OwnNodeRepair[];
}

/** A set that keeps losing to concurrent writers is reported rather than retried without end. */
const MAX_DATA_WRITES = 5;

/**
 * Makes the own node, its data, its payload node and its watch right, and returns the own node's path.
 *
 * No peer ever reads a wrong `path` in the JSON: kimserver keys its table by that field and never corrects
 * it, and the sequence number in the path is only known once the server has answered the create (predicting
 * it from the parent's cversion races with every sibling that comes or goes). So the node is created empty,
 * which kimserver-style readers skip (their data watch brings the JSON next), and the full JSON is set once
 * the path is known. The create is protected against a lost reply (ZkSession.createProtected).
 *
 * The last read of the own node leaves a data watch on it, so its deletion or a change of its data from
 * outside reaches the main side as an event, which runs this again. A run that fails is retried whole.
 */
export async function registerOwnNode(
  s: ZkSession,
  acl: readonly ZkAcl[],
  spec: OwnNodeSpec,
): Promise<OwnNodeResult> {
  const repairs: OwnNodeRepair[] = [];
  const parent = spec.prefix.slice(0, spec.prefix.lastIndexOf('/'));
  const namePrefix = spec.prefix.slice(parent.length + 1);
  await s.mkdirp(parent, acl);
  await s.mkdirp(spec.payloadFolder, acl);
  const stale = new Set(spec.staleSessions);
  stale.delete(s.sessionId);
  if (stale.size > 0) {
    const dropped =
      (await dropOwned(s, parent, namePrefix, stale)) +
      (await dropOwned(s, spec.payloadFolder, namePrefix, stale));
    if (dropped > 0) repairs.push('stale_session');
  }
  let path = (await ownedBy(s, spec.knownPath)) ?? (await s.findOwnNode(parent, namePrefix));
  const created = path === undefined;
  if (path === undefined) {
    path = (await s.createProtected(parent, namePrefix, '', { acl })).path;
    if (spec.knownPath) repairs.push('recreated');
  }
  const name = path.slice(parent.length + 1);
  if ((await writeOwnData(s, path, spec.fields)) && !created) repairs.push('data');
  if ((await ensurePayload(s, `${spec.payloadFolder}/${name}`, spec.payload, acl)) && !created)
    repairs.push('payload');
  if ((await dropOwned(s, spec.payloadFolder, namePrefix, new Set([s.sessionId]), name)) > 0)
    repairs.push('stale_payload');
  return { path, repairs };
}

/** kimserver's JSON for the own node; `active_time` is the node's creation time, the same on every run. */
function ownNodeJson(path: string, fields: Record<string, unknown>, ctimeMs: number): string {
  return JSON.stringify({ path, ...fields, active_time: ctimeMs / 1000 });
}

/** `path` if it exists and this session owns it. */
async function ownedBy(s: ZkSession, path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  const stat = await s.exists(path);
  return stat?.ephemeralOwner === s.sessionId ? path : undefined;
}

/**
 * Reads the own node with a data watch and writes its JSON until the read shows it. Each write is
 * conditional on the version read, so a concurrent writer is never silently overwritten without a check.
 * Returns whether it wrote.
 */
async function writeOwnData(s: ZkSession, path: string, fields: Record<string, unknown>): Promise<boolean> {
  let wrote = false;
  for (let writes = 0; ; writes++) {
    const { data, stat } = await s.get(path, true);
    const want = ownNodeJson(path, fields, stat.ctime);
    if (data === want) return wrote;
    if (writes === MAX_DATA_WRITES)
      throw new ZkError(ZAPIERROR, `the own node's data kept changing under ${writes} writes`, path);
    try {
      await s.set(path, want, stat.version);
      wrote = true;
    } catch (err) {
      if (zkErrorCode(err).code !== ZBADVERSION) throw err;
    }
  }
}

/** Creates the payload node when it is missing; returns whether it did. */
async function ensurePayload(
  s: ZkSession,
  path: string,
  data: string,
  acl: readonly ZkAcl[],
): Promise<boolean> {
  if ((await s.exists(path)) !== null) return false;
  try {
    await s.create(path, data, CreateMode.EPHEMERAL, acl);
    return true;
  } catch (err) {
    // Created meanwhile: by an earlier try of ours whose reply was lost, or by the next run.
    if (zkErrorCode(err).code === ZNODEEXISTS) return false;
    throw err;
  }
}

/**
 * Deletes the `${namePrefix}NNNNNNNNNN` children of `folder` that one of `owners` owns, except `keep`;
 * returns how many went.
 */
async function dropOwned(
  s: ZkSession,
  folder: string,
  namePrefix: string,
  owners: ReadonlySet<string>,
  keep?: string,
): Promise<number> {
  const { children } = await s.getChildren(folder);
  let dropped = 0;
  for (const name of children) {
    if (name === keep || !isSequentialChild(name, namePrefix)) continue;
    const path = `${folder}/${name}`;
    const owner = (await s.exists(path))?.ephemeralOwner;
    if (owner === undefined || !owners.has(owner)) continue;
    try {
      await s.delete(path);
      dropped++;
    } catch (err) {
      if (zkErrorCode(err).code !== ZNONODE) throw err;
    }
  }
  return dropped;
}
