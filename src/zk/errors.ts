// Stable numeric error codes for ZooKeeper calls, named and numbered like the C client's zoo_rc (kimserver's
// Bio results carry these), so a code can cross the ack ring as one int and still mean the same thing.
import { ZkbioError } from '../errors.js';
import { zookeeper } from './nzk.js';

export const ZOK = 0;
export const ZSYSTEMERROR = -1;
export const ZRUNTIMEINCONSISTENCY = -2;
export const ZDATAINCONSISTENCY = -3;
export const ZCONNECTIONLOSS = -4;
export const ZMARSHALLINGERROR = -5;
export const ZUNIMPLEMENTED = -6;
export const ZOPERATIONTIMEOUT = -7;
export const ZBADARGUMENTS = -8;
export const ZAPIERROR = -100;
export const ZNONODE = -101;
export const ZNOAUTH = -102;
export const ZBADVERSION = -103;
export const ZNOCHILDRENFOREPHEMERALS = -108;
export const ZNODEEXISTS = -110;
export const ZNOTEMPTY = -111;
export const ZSESSIONEXPIRED = -112;
export const ZINVALIDCALLBACK = -113;
export const ZINVALIDACL = -114;
export const ZAUTHFAILED = -115;
export const ZCLOSING = -116;
/** zkbio's own: the call got no answer within its per-call timeout. Its outcome is unknown, as with ZCONNECTIONLOSS. */
export const ZCALLTIMEOUT = -1000;

const NAMES: ReadonlyMap<number, string> = new Map([
  [ZOK, 'ZOK'],
  [ZSYSTEMERROR, 'ZSYSTEMERROR'],
  [ZRUNTIMEINCONSISTENCY, 'ZRUNTIMEINCONSISTENCY'],
  [ZDATAINCONSISTENCY, 'ZDATAINCONSISTENCY'],
  [ZCONNECTIONLOSS, 'ZCONNECTIONLOSS'],
  [ZMARSHALLINGERROR, 'ZMARSHALLINGERROR'],
  [ZUNIMPLEMENTED, 'ZUNIMPLEMENTED'],
  [ZOPERATIONTIMEOUT, 'ZOPERATIONTIMEOUT'],
  [ZBADARGUMENTS, 'ZBADARGUMENTS'],
  [ZAPIERROR, 'ZAPIERROR'],
  [ZNONODE, 'ZNONODE'],
  [ZNOAUTH, 'ZNOAUTH'],
  [ZBADVERSION, 'ZBADVERSION'],
  [ZNOCHILDRENFOREPHEMERALS, 'ZNOCHILDRENFOREPHEMERALS'],
  [ZNODEEXISTS, 'ZNODEEXISTS'],
  [ZNOTEMPTY, 'ZNOTEMPTY'],
  [ZSESSIONEXPIRED, 'ZSESSIONEXPIRED'],
  [ZINVALIDCALLBACK, 'ZINVALIDCALLBACK'],
  [ZINVALIDACL, 'ZINVALIDACL'],
  [ZAUTHFAILED, 'ZAUTHFAILED'],
  [ZCLOSING, 'ZCLOSING'],
  [ZCALLTIMEOUT, 'ZCALLTIMEOUT'],
]);

export function zkErrorName(code: number): string {
  return NAMES.get(code) ?? 'ZSYSTEMERROR';
}

/** A failed ZooKeeper call. `code`/`codeName` are the stable zoo_rc-style pair; `path` is the call's path. */
export class ZkError extends ZkbioError<number> {
  readonly codeName: string;
  constructor(
    code: number,
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${zkErrorName(code)}: ${message}`, options);
    this.codeName = zkErrorName(code);
  }
}

/**
 * Maps anything a call can throw to a stable code and name:
 * - a ZkError keeps its code;
 * - node-zookeeper-client's Exception carries ZooKeeper's own code, the same numbers as zoo_rc;
 * - the library's argument checks throw AssertionError (bad path, data too large, ...): ZBADARGUMENTS;
 * - anything else is ZSYSTEMERROR.
 */
export function zkErrorCode(err: unknown): { code: number; name: string } {
  let code = ZSYSTEMERROR;
  if (err instanceof ZkError) code = err.code;
  else if (err instanceof zookeeper.Exception) code = NAMES.has(err.code) ? err.code : ZSYSTEMERROR;
  else if (err instanceof Error && err.name === 'AssertionError') code = ZBADARGUMENTS;
  return { code, name: zkErrorName(code) };
}

/** Wraps whatever a call threw into a ZkError with the mapped code, keeping the original as `cause`. */
export function toZkError(err: unknown, path?: string): ZkError {
  if (err instanceof ZkError) return err;
  const { code } = zkErrorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return new ZkError(code, path ? `${message} (${path})` : message, path, { cause: err });
}
