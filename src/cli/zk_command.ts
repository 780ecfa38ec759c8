// `zkbio zk start [--servers 1|3] [--port P] [--dir D]`: runs ZooKeeper on loopback (Debian's package, installed
// when missing as root, or named for the user to install), prints the connect string alone on stdout, and stops
// every JVM (removing their data) on SIGINT or SIGTERM.

import { parseArgs } from 'node:util';
import { parsed, UsageError } from './usage.js';
import { startZk } from './zk_server.js';

function parseZkArgs(argv: string[]) {
  const { positionals, values } = parsed(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        servers: { type: 'string', default: '1' },
        port: { type: 'string' },
        dir: { type: 'string' },
      },
    }),
  );
  if (positionals.length !== 1 || positionals[0] !== 'start')
    throw new UsageError(
      positionals.length === 0 ? 'missing "start"' : `unknown zk command "${positionals.join(' ')}"`,
    );
  const servers = Number(values.servers);
  if (servers !== 1 && servers !== 3)
    throw new UsageError(`--servers must be 1 or 3, got "${values.servers}"`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port + servers - 1 <= 65535))
    throw new UsageError(`--port must be a port from 1 to ${65536 - servers}, got "${values.port}"`);
  return { servers: servers as 1 | 3, port, dir: values.dir };
}

export async function run(argv: string[]): Promise<void> {
  const { servers, port, dir } = parseZkArgs(argv);
  const started = Date.now();
  // local: this command exists to run servers, so it ignores ZK_SERVERS.
  const zk = await startZk({ servers, baseDir: dir, clientPort: port, local: true });
  process.stderr.write(
    `zookeeper: ${servers} server(s) serving after ${Date.now() - started} ms; ` +
      `pids ${zk.servers.map((s) => s.pid).join(',')}; Ctrl-C stops them\n`,
  );
  // The connect string alone on stdout, so that scripts can read it: ZK=$(zkbio zk start | head -1)
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
