/**
 * The own-node registration recipe, run on the bio thread against one ZkSession (kept apart from the session,
 * as Curator and kazoo keep their recipes apart from the client).
 */
import type { ZkAcl } from './acl.js';
import type { ZkSession } from './session.js';

/** What the main side asks for: the own node and its payload node. */
export interface OwnNodeSpec {
  /** The own node's path without its sequence suffix: `{root}/{type}/{server}-{type}`. */
  prefix: string;
  /** kimserver's JSON fields except `path`, in kimserver's key order. */
  fields: Record<string, unknown>;
  /** `{payload root}/{type}`. */
  payloadFolder: string;
  /** The payload node's data when it has to be created. */
  payload: string;
}

export interface OwnNodeResult {
  /** The own node's full path. */
  path: string;
}

/**
 * Registers the own node with its JSON in the one create, protected against a lost reply (see
 * ZkSession.createProtected), then the payload node. kimserver's JSON carries the node's own path, which
 * includes the sequence number the server picks; that number is the parent's cversion at the create, so it
 * is read first and the path written with it. If a peer's join raced in between, the data is corrected at
 * once with a set (peers then see the right JSON one event later; the node and its other fields were right).
 */
export async function registerOwnNode(
  s: ZkSession,
  acl: readonly ZkAcl[],
  spec: OwnNodeSpec,
): Promise<OwnNodeResult> {
  const { prefix, payloadFolder } = spec;
  const parent = prefix.slice(0, prefix.lastIndexOf('/'));
  const namePrefix = prefix.slice(parent.length + 1);
  await s.mkdirp(parent, acl);
  await s.mkdirp(payloadFolder, acl);
  const dataFor = (path: string) => JSON.stringify({ path, ...spec.fields });
  const own = await s.findOwnNode(parent, namePrefix);
  // This session registered already (a retried task): never a second node.
  if (own) return { path: own };
  const stat = await s.exists(parent);
  const predicted = `${prefix}${String(stat?.cversion ?? 0).padStart(10, '0')}`;
  const { path } = await s.createProtected(parent, namePrefix, dataFor(predicted), {
    acl,
    payload: { parentPath: payloadFolder, data: spec.payload },
  });
  if (path !== predicted) await s.set(path, dataFor(path));
  await dropStalePayloads(s, payloadFolder, namePrefix, path);
  return { path };
}

/**
 * Deletes this session's other payload nodes: one is left behind when the own node was deleted from outside
 * and registered again under a new sequence number in the same session.
 */
async function dropStalePayloads(
  s: ZkSession,
  folder: string,
  namePrefix: string,
  ownPath: string,
): Promise<void> {
  const keep = ownPath.slice(ownPath.lastIndexOf('/') + 1);
  const { children } = await s.getChildren(folder);
  for (const name of children) {
    if (name === keep || !name.startsWith(namePrefix)) continue;
    const stat = await s.exists(`${folder}/${name}`);
    if (stat?.ephemeralOwner === s.sessionId) await s.delete(`${folder}/${name}`).catch(() => {});
  }
}

/** Leaves an exists watch on the own node, so that its deletion or a change of its data is seen. */
export async function watchOwnNode(s: ZkSession, path: string): Promise<void> {
  await s.exists(path, true);
}
