// The `zkbio` commands' usage lines, and the error for a bad command line (the CLI exits 2 on it).
import { ZkbioError } from '../errors.js';

/** A bad flag, a missing argument or a bad config: `zkbio` prints it with the command's usage and exits 2. */
export class UsageError extends ZkbioError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

const TARGET =
  '(--config FILE | --servers HOST:PORT,... [--root PATH] [--auth USER:PASSWORD]) [--timeout MS]';

export const USAGE = {
  node: 'zkbio node --config FILE [--status HOST:PORT] [--workers N]',
  zk: 'zkbio zk start [--servers 1|3] [--port P] [--dir PARENT_DIR]',
  ls: `zkbio ls ${TARGET} [--type T] [--json]`,
  lookup: `zkbio lookup ${TARGET} --type T [--json] KEY...`,
  watch: `zkbio watch ${TARGET} [--type T] [--json]`,
} as const;

export type CommandName = keyof typeof USAGE;

export const HELP = `zkbio: ZooKeeper node discovery for Node.js servers (kimserver-compatible)

usage:
  ${USAGE.node}
      run one server node: register, watch, share the table with cluster workers, serve HTTP status
  ${USAGE.zk}
      run ZooKeeper on loopback (Debian's package) and print its connect string; Ctrl-C stops it
  ${USAGE.ls}
      the nodes under the root as a node's table would hold them, bad peer data flagged with the reason
  ${USAGE.lookup}
      the member that serves each key, as a running node's GET /lookup answers
  ${USAGE.watch}
      a live stream of added, removed and changed nodes (lines, or JSON lines with --json)
  zkbio --help | zkbio COMMAND --help

ls, lookup and watch read ZooKeeper directly: --config takes a kimserver config.json (its servers, root and
auth); otherwise --servers (default root /kimserver/nodes). They fail with exit 1 when ZooKeeper does not
answer within --timeout (default 5000 ms). A bad command line or config exits 2.
`;

/** Runs node:util's parseArgs, its errors (an unknown flag, a missing value) turned into UsageErrors. */
export function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
