// Binding the --status address. One that cannot be bound (in use, not permitted, not on this host) is a
// StatusAddressError naming it, and `zkbio node` exits 2 on it: it used to be an uncaught exception in every
// cluster worker, each re-forked 500 ms later, forever.
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { ZkbioError } from '../errors.js';

interface ListenAddress {
  host: string;
  port: number;
}

/** The exit code of a cluster worker that could not bind --status: the primary then stops with exit 2. */
export const EXIT_STATUS_ADDRESS = 2;

const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is in use',
  EACCES: 'binding it is not permitted (a port below 1024 needs privileges)',
  EADDRNOTAVAIL: 'the address is not one of this host',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

export class StatusAddressError extends ZkbioError {
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super('STATUS_ADDRESS', `cannot serve --status on ${address}: ${reason}`);
  }
}

function format({ host, port }: ListenAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Listens on `address`; rejects with a StatusAddressError when it cannot be bound. */
export function listenOn(
  server: Server | ReturnType<typeof createServer>,
  address: ListenAddress,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const code = err.code ?? 'unknown error';
      reject(new StatusAddressError(format(address), `${REASONS[code] ?? err.message} (${code})`));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(address.port, address.host);
  });
}

/**
 * Checks, before anything starts, that `address` can be bound, by binding it for a moment. The cluster workers
 * bind it for real later; a port taken in between fails them with EXIT_STATUS_ADDRESS.
 */
export async function probeAddress(address: ListenAddress): Promise<void> {
  const probe = createServer();
  await listenOn(probe, address);
  await new Promise((resolve) => probe.close(resolve));
}
