// What a user gets from the registry: `npm pack`, then the tarball installed into a fresh temp project.
// It checks the tarball's contents, `import('zkbio')`, a TypeScript consumer type-checked with
// moduleResolution node16, `npx zkbio --help` (every command's usage, exit 0), publint and
// @arethetypeswrong/cli. Run by .ci/run; `npm run pack:check` by hand.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => join(repo, 'node_modules', '.bin', name);
const work = mkdtempSync(join(tmpdir(), 'zkbio-pack-'));

function run(cmd: string, args: string[], cwd: string): string {
  process.stderr.write(`pack-check: ${cmd} ${args.join(' ')}\n`);
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function checkContents(tarball: string): void {
  const files = run('tar', ['-tzf', tarball], work)
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  for (const want of [
    'package.json',
    'LICENSE',
    'README.md',
    'bin/zkbio.js',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
  ]) {
    assert.ok(files.includes(want), `the tarball lacks ${want}`);
  }
  const stray = files.filter((f) =>
    /^(test|bench|examples|scripts|\.ci)\/|^dist\/(test|bench|examples|scripts)\//.test(f),
  );
  assert.deepEqual(stray, [], 'tests, benches, bench results and CI files stay out of the tarball');
}

const CONSUMER = `import { hashKey, Nodes, startDiscovery, type ZkbioConfig, ZkbioError, ZkClient } from 'zkbio';

const nodes = new Nodes({ vnodeCount: 200, hash: 'fnv1a_64' });
const ok: boolean = nodes.addZkNode({ path: '/kimserver/nodes/logic/a0000000001', type: 'logic', host: '10.0.0.1', port: 3344, worker_cnt: 2, active_time: 1 });
const hit = nodes.getNodeInHash('logic', 'user-1');
const id: string | undefined = hit?.id;
const h: number = hashKey('fnv1a_64', new TextEncoder().encode('k'));
const start: (c: string | ZkbioConfig) => Promise<ZkClient> = startDiscovery;
const code: string | number = new ZkbioError('X', 'y').code;
export { ok, id, h, start, code };
`;

function checkConsumer(tarball: string): void {
  const dir = join(work, 'consumer');
  run('mkdir', ['-p', dir], work);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const typesNode = JSON.parse(
    readFileSync(join(repo, 'node_modules/@types/node/package.json'), 'utf8'),
  ).version;
  run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `@types/node@${typesNode}`],
    dir,
  );

  const imported = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const m = await import('zkbio'); console.log(Object.keys(m).sort().join(' '));",
    ],
    dir,
  );
  for (const name of [
    'Nodes',
    'ZkClient',
    'ZkbioError',
    'hashKey',
    'joinNodeTable',
    'shareNodeTable',
    'startDiscovery',
  ])
    assert.ok(imported.split(/\s+/).includes(name), `import('zkbio') lacks ${name}: ${imported}`);

  writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        types: ['node'],
      },
      files: ['consumer.ts'],
    }),
  );
  run(bin('tsc'), ['-p', '.'], dir);

  const help = spawnSync('npx', ['--no-install', 'zkbio', '--help'], { cwd: dir, encoding: 'utf8' });
  assert.equal(help.status, 0, `npx zkbio --help exited ${help.status}: ${help.stderr}`);
  for (const cmd of ['node', 'zk start', 'ls', 'lookup', 'watch'])
    assert.match(help.stdout, new RegExp(`zkbio ${cmd} `), `npx zkbio --help lacks ${cmd}`);
}

try {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], repo));
  const tarball = join(work, packed[0].filename);
  checkContents(tarball);
  checkConsumer(tarball);
  process.stderr.write(run(bin('publint'), ['run', tarball, '--strict'], work));
  // ESM only, by design ("type": "module", Node >= 20): require() from CommonJS is not a target.
  process.stderr.write(run(bin('attw'), [tarball, '--profile', 'esm-only', '--no-color'], work));
  process.stderr.write('pack-check: the packed package installs, imports, type-checks and runs\n');
} finally {
  rmSync(work, { recursive: true, force: true });
}
