// `zkbio lookup --type T KEY...`: the ring member that serves each key, from the same table a node builds
// (zk_table.ts), so the answer is a running node's GET /lookup answer, bit for bit.
import { parseArgs } from 'node:util';
import { parsed, UsageError } from './usage.js';
import { ZkTable } from './zk_table.js';
import { openSession, resolveTarget, TARGET_FLAGS } from './zk_target.js';

/** DESIGN.md's contract for `--json`: one object per key, in the order given. */
interface LookupAnswer {
  key: string;
  id: string;
  host: string;
  port: number;
  worker_index: number;
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals: keys } = parsed(() =>
    parseArgs({ args: argv, options: TARGET_FLAGS, allowPositionals: true }),
  );
  const target = resolveTarget(values);
  if (target.type === undefined) throw new UsageError('--type is required');
  if (keys.length === 0) throw new UsageError('give at least one KEY');
  const type = target.type;
  const session = await openSession(target);
  let answers: LookupAnswer[];
  try {
    const table = new ZkTable(session, target.root, target.maxNodeBytes);
    await table.readType(type);
    answers = keys.map((key) => {
      const hit = table.nodes.getNodeInHash(type, key);
      if (!hit) {
        const bad = table.bad.size > 0 ? ` (${table.bad.size} with bad data; see zkbio ls)` : '';
        throw new Error(`no node of type "${type}" serves under ${target.root}${bad}`);
      }
      return { key, id: hit.id, host: hit.host, port: hit.port, worker_index: hit.workerIndex };
    });
  } finally {
    await session.close();
  }
  const width = Math.max(...keys.map((k) => k.length));
  process.stdout.write(
    values.json
      ? `${JSON.stringify(answers)}\n`
      : answers.map((a) => `${a.key.padEnd(width)}  ${a.id}\n`).join(''),
  );
}
