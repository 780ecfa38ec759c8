// ACLs for digest auth: with `auth: "user:password"`, zkbio's nodes are world-readable and writable only by
// that identity, so an outsider can read the cluster's layout but cannot register, change or delete nodes.
import { createHash } from 'node:crypto';

/** ZooKeeper's permission bits. */
export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

/** One ACL entry as plain data, so that it can cross a thread boundary. */
export interface ZkAcl {
  perms: number;
  scheme: string;
  id: string;
}

/** world:anyone may do anything: ZooKeeper's OPEN_ACL_UNSAFE, used when no auth is configured. */
export const OPEN_ACL: readonly ZkAcl[] = [{ perms: Perms.ALL, scheme: 'world', id: 'anyone' }];

/** Splits "user:password" at its first colon. The error never repeats the value: it holds a password. */
export function parseDigestAuth(auth: string): { user: string; password: string } {
  const i = auth.indexOf(':');
  if (i <= 0 || i === auth.length - 1) throw new Error('digest auth must look like "user:password"');
  return { user: auth.slice(0, i), password: auth.slice(i + 1) };
}

/** The digest scheme's id for a credential: `user:base64(sha1("user:password"))`, as ZooKeeper computes it. */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

/** world READ plus ALL for the digest identity; OPEN_ACL without auth. */
export function aclsForAuth(auth: string | undefined): ZkAcl[] {
  if (auth === undefined) return [...OPEN_ACL];
  const { user, password } = parseDigestAuth(auth);
  return [
    { perms: Perms.READ, scheme: 'world', id: 'anyone' },
    { perms: Perms.ALL, scheme: 'digest', id: digestId(user, password) },
  ];
}
