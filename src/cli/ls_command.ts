// `zkbio ls`: the nodes under the root as a node's table would hold them (serving, or shadowed by a newer
// registration of the same host:port), the bad peer data a node would skip, with the reason, and the nodes still
// registering (created empty, their JSON not yet set), which a node waits for.
import { parseArgs } from 'node:util';
import type { BadPeer } from '../discovery/bad_peers.js';
import type { ZkNode } from '../nodes/validate.js';
import { parsed } from './usage.js';
import { ZkTable } from './zk_table.js';
import { openSession, resolveTarget, TARGET_FLAGS } from './zk_target.js';

interface LsNode extends ZkNode {
  /** False when a newer registration of the same host:port serves instead. */
  serving: boolean;
}

interface LsResult {
  root: string;
  nodes: LsNode[];
  bad: BadPeer[];
  /** Paths of nodes created empty whose JSON is not set yet. */
  registering: string[];
}

/** The type folder of a node's path under the root. */
const typeOf = (root: string, path: string): string => path.slice(root.length + 1, path.lastIndexOf('/'));

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

export async function run(argv: string[]): Promise<void> {
  const { values } = parsed(() => parseArgs({ args: argv, options: TARGET_FLAGS }));
  const target = resolveTarget(values);
  const session = await openSession(target);
  try {
    const table = new ZkTable(session, target.root, target.maxNodeBytes);
    for (const type of target.type === undefined ? await table.types() : [target.type])
      await table.readType(type);
    const serving = new Set(table.nodes.list().map((n) => n.path));
    const result: LsResult = {
      root: target.root,
      nodes: table.nodes
        .entries()
        .map((n) => ({ ...n, serving: serving.has(n.path) }))
        .sort(byPath),
      bad: table.bad.list().sort(byPath),
      registering: [...table.registering].sort(),
    };
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
  } finally {
    await session.close();
  }
}

function render({ root, nodes, bad, registering }: LsResult): string {
  const rows = [
    ['TYPE', 'PATH', 'ADDRESS', 'WORKERS', 'ACTIVE', 'STATE'],
    ...nodes.map((n) => [
      n.type,
      n.path,
      `${n.host}:${n.port}`,
      String(n.worker_cnt),
      new Date(n.active_time * 1000).toISOString(),
      n.serving ? 'serving' : 'shadowed (same host:port, newer registration serves)',
    ]),
    ...bad.map((b) => [b.type, b.path, '-', '-', '-', `BAD ${b.reason}: ${b.detail}`]),
    ...registering.map((path) => [
      typeOf(root, path),
      path,
      '-',
      '-',
      '-',
      'registering (created empty, JSON not set yet)',
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
  const summary = `${nodes.length} node(s), ${bad.length} with bad data, ${registering.length} registering, under ${root}`;
  return `${lines.join('\n')}\n${summary}\n`;
}
