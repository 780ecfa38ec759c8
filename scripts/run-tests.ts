// Runs the compiled test files with node:test. `unit` limits the run to tests that need no ZooKeeper.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = fileURLToPath(new URL('../test/', import.meta.url));
const onlyUnit = process.argv[2] === 'unit';

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(full));
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

const files = findTests(testRoot).filter((f) => !onlyUnit || relative(testRoot, f).startsWith('unit'));
// One file at a time: the machine has 2 cores, and integration files run ZooKeeper servers of their own.
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(run.status ?? 1);
