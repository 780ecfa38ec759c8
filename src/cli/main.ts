/**
 * The `zkbio` command: `zkbio COMMAND ...` (see usage.ts). Each command lives in its own module, loaded only
 * when it runs. A bad command line, a bad config or a --status address that cannot be bound exits 2; any other
 * failure (ZooKeeper unreachable, say) prints one line and exits 1.
 */
import { ConfigError } from '../errors.js';
import { StatusAddressError } from './status_listen.js';
import { type CommandName, HELP, USAGE, UsageError } from './usage.js';

const COMMANDS: Record<CommandName, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  node: () => import('./node_command.js'),
  zk: () => import('./zk_command.js'),
  ls: () => import('./ls_command.js'),
  lookup: () => import('./lookup_command.js'),
  watch: () => import('./watch_command.js'),
};

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

const [command, ...rest] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write(HELP);
  process.exit(2);
}
if (command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(HELP);
  process.exit(0);
}
if (!isCommand(command)) {
  process.stderr.write(`zkbio: unknown command "${command}"\n\n${HELP}`);
  process.exit(2);
}
if (rest.includes('--help') || rest.includes('-h')) {
  process.stdout.write(`usage: ${USAGE[command]}\n`);
  process.exit(0);
}
try {
  await (await COMMANDS[command]()).run(rest);
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  const usage = err instanceof UsageError || err instanceof ConfigError;
  process.stderr.write(`zkbio ${command}: ${message}\n${usage ? `usage: ${USAGE[command]}\n` : ''}`);
  process.exit(usage || err instanceof StatusAddressError ? 2 : 1);
}
