// `npm run bench -- <name> [--quick]`: runs bench/<name>.ts, writes bench/results/<name>.json, prints a table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BenchOptions {
  quick: boolean;
  args: string[];
}
/**
 * Each benchmark module's default export. `results` goes into the JSON as is; `targets`, when given, goes beside
 * it (the run's figures checked against the targets); `table` is printed.
 */
export type Bench = (opts: BenchOptions) => Promise<{ results: unknown; targets?: unknown; table: string }>;

const [name, ...rest] = process.argv.slice(2);
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: npm run bench -- <name> [--quick]   (names: ack-drain, queue, nodes, discovery)');
  process.exit(2);
}
const quick = rest.includes('--quick');
const mod = (await import(`./${name}.js`)) as { default: Bench };
const started = Date.now();
const { results, targets, table } = await mod.default({ quick, args: rest });
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const report = {
  name,
  quick,
  date: new Date().toISOString(),
  node: process.version,
  duration_s: (Date.now() - started) / 1000,
  results,
  ...(targets === undefined ? {} : { targets }),
};
writeFileSync(`${resultsDir}${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
console.log(table);
console.log(`\nwrote bench/results/${name}.json`);
