// `node dist/scripts/zk.js start [--servers 1|3] [--dir D]`: runs ZooKeeper on loopback for the demo and for
// users, prints the connect string, and stops the servers (removing their data) on SIGINT or SIGTERM.
import { parseArgs } from 'node:util';
import { startZk } from '../test/support/zk-server.js';

const usage = 'usage: node dist/scripts/zk.js start [--servers 1|3] [--dir PARENT_DIR]';

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { servers: { type: 'string', default: '1' }, dir: { type: 'string' } },
  });
  if (positionals[0] !== 'start') throw new Error(usage);
  const servers = Number(values.servers);
  if (servers !== 1 && servers !== 3) throw new Error(`--servers must be 1 or 3\n${usage}`);

  const started = Date.now();
  // local: this command exists to run servers, so it ignores ZK_SERVERS.
  const zk = await startZk({ servers, baseDir: values.dir, local: true });
  process.stderr.write(
    `zookeeper: ${servers} server(s) serving after ${Date.now() - started} ms; ` +
      `pids ${zk.servers.map((s) => s.pid).join(',')}; Ctrl-C stops them\n`,
  );
  // The connect string alone on stdout, so that scripts can read it: ZK=$(node dist/scripts/zk.js start | head -1)
  process.stdout.write(`${zk.connectString}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`zookeeper: ${signal}, stopping\n`);
    zk.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`zookeeper: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
