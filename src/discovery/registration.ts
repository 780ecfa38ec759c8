/**
 * The main-thread side of the own registration: when to ask the bio thread to reconcile the own node
 * (src/zk/registration.ts), what to tell it, and what to make of the answer. ZkClient feeds it session events
 * and the own node's watch events, and asks it whether the node is registered.
 *
 * One REGISTER at most is queued or in flight; whatever asks for another meanwhile gets one more run after it.
 * It runs when a session connects (a new one, or the same one again: a reconnect may have missed changes),
 * when the own node is deleted or its data changed, and again with backoff after a failure.
 */
import type { Logger } from 'pino';
import { BioError } from '../bio/protocol.js';
import { ConfigError, PayloadTooLargeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { type BioRecord, encodedSize, newRecord } from '../ring/codec.js';
import { Cmd } from '../zk/commands.js';
import type { OwnNodeRepair } from '../zk/registration.js';
import type { ZkbioConfig } from './config.js';
import { retryDelayMs } from './retry.js';

export interface OwnRegistrationDeps {
  config: ZkbioConfig;
  metrics: Metrics;
  logger: Logger;
  /** The largest task the Bio takes, in encoded bytes. */
  maxTaskBytes: number;
  /** ZkClient's task queue: retries a full ring itself, calls `done` with the one ack. */
  queue(cmd: number, path: string, value: string, values: string[], done: (ack: BioRecord) => void): void;
  /** Runs `fn` after `ms`, unless discovery stops first. */
  later(ms: number, fn: () => void): void;
  /** Connected, and not stopping: a run may start. */
  canRun(): boolean;
  /** The own node was created: the first time in a session, or again after it was lost. */
  onRegistered(path: string): void;
}

/** A session id as ZooKeeper's stat shows an owner: 16 hex digits. */
const SESSION_ID_CHARS = 16;
/** Dead threads' sessions remembered at most (the Bio gives up after 5 crashes in a row by default). */
const MAX_STALE_SESSIONS = 8;
const SEQUENCE_CHARS = 10;

const REPAIR_LOGS: Record<OwnNodeRepair, string> = {
  stale_session: 'deleted the registration of the session that died with the bio thread',
  recreated: 'own node was deleted from outside; created it again',
  data: "own node's data was not its JSON (changed from outside, or a registration cut short); wrote it back",
  payload: 'payload node was missing; created it again',
  stale_payload: "deleted payload nodes of this session's earlier registrations",
};

export class OwnRegistration {
  /** Largest load report setPayload() takes, as JSON bytes: what a REGISTER task leaves room for. */
  readonly maxPayloadBytes: number;
  private readonly deps: OwnRegistrationDeps;
  private readonly prefix: string;
  private readonly payloadFolder: string;
  private readonly fields: string;
  private path: string | null = null;
  /** The own node this session last registered: the run's first guess, kept while the node is lost. */
  private lastPath: string | null = null;
  private sessionId: string | null = null;
  /** The own node last seen deleted: a run that looked before the deletion may still answer with it. */
  private deleted: string | null = null;
  /** Sessions of bio threads that died, oldest first: their nodes are deleted by the next run. */
  private staleSessions: string[] = [];
  private payload_ = '{}';
  private running = false;
  private runAgain = false;
  private failures = 0;
  /** Moves on with every session: the answer of a run for a session that is gone is not applied. */
  private generation = 0;

  constructor(deps: OwnRegistrationDeps) {
    this.deps = deps;
    const { serverName, nodeType, nodeHost, nodePort, workerCnt, zookeeper } = deps.config;
    this.prefix = `${zookeeper.nodesRoot}/${nodeType}/${serverName}-${nodeType}`;
    this.payloadFolder = `${zookeeper.payloadRoot}/${nodeType}`;
    // kimserver's JSON, port as a string; the bio thread adds path first and active_time last.
    this.fields = JSON.stringify({
      type: nodeType,
      host: nodeHost,
      port: String(nodePort),
      worker_cnt: workerCnt,
    });
    const largest = this.task(
      '',
      `${this.prefix}${'0'.repeat(SEQUENCE_CHARS)}`,
      Array(MAX_STALE_SESSIONS).fill('0'.repeat(SESSION_ID_CHARS)),
    );
    this.maxPayloadBytes = deps.maxTaskBytes - encodedSize(newRecord(Cmd.REGISTER, ...largest));
    if (this.maxPayloadBytes < 2) {
      throw new ConfigError(
        'bio.task_ring_bytes',
        `is too small for this node's registration task (${encodedSize(newRecord(Cmd.REGISTER, ...largest))} ` +
          `bytes; a task may take ${deps.maxTaskBytes})`,
      );
    }
  }

  /** The own node's path, or null while it is not registered. */
  get self(): string | null {
    return this.path;
  }

  /** The last load report setPayload() took, as JSON. */
  get payload(): string {
    return this.payload_;
  }

  /** The report the payload node is created with. Throws PayloadTooLargeError when it could not cross. */
  setPayload(json: string): void {
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > this.maxPayloadBytes) throw new PayloadTooLargeError(bytes, this.maxPayloadBytes);
    this.payload_ = json;
  }

  /** A session connected. A new one has no registration yet; either way the registration is reconciled. */
  onConnected(sessionId: string): void {
    if (sessionId !== this.sessionId) {
      this.sessionId = sessionId;
      this.forget();
    }
    this.reconcile();
  }

  /**
   * A session timeout passed without a word from the server: the registration is not claimed. lastPath is
   * kept, so the session resuming (onConnected) finds its node again; an expiry forgets it.
   */
  onLost(): void {
    this.path = null;
  }

  /** The session expired: its ephemeral nodes went with it. */
  onExpired(): void {
    this.forget();
  }

  /**
   * The bio thread died. Its socket went with it, but not its session: ZooKeeper keeps that session's nodes
   * for a whole session timeout, beside the registration of the new session. So the next run deletes them.
   */
  onThreadCrash(): void {
    if (this.sessionId !== null)
      this.staleSessions = [...this.staleSessions, this.sessionId].slice(-MAX_STALE_SESSIONS);
    this.sessionId = null;
    this.forget();
  }

  /** Discovery stopped (or gave up): nothing is registered any more. */
  onStopped(): void {
    this.forget();
  }

  /** The own node's watch fired: it was deleted, or its data changed (perhaps by our own write). */
  onOwnNodeEvent(path: string, deleted: boolean): void {
    if (path !== this.path) return;
    if (deleted) {
      this.path = null; // unhealthy until it is back
      this.deleted = path;
    }
    this.reconcile();
  }

  private forget(): void {
    this.generation++;
    this.path = null;
    this.lastPath = null;
    this.failures = 0;
  }

  /** [path, value, values] of a REGISTER task. */
  private task(payload: string, knownPath: string, staleSessions: string[]): [string, string, string[]] {
    return [this.prefix, this.fields, [this.payloadFolder, payload, knownPath, staleSessions.join(',')]];
  }

  /** Runs the reconciliation now, or once more after the one in flight. */
  reconcile(): void {
    if (!this.deps.canRun()) return;
    if (this.running) {
      this.runAgain = true;
      return;
    }
    this.running = true;
    this.runAgain = false;
    const generation = this.generation;
    const [path, value, values] = this.task(this.payload_, this.lastPath ?? '', this.staleSessions);
    this.deps.queue(Cmd.REGISTER, path, value, values, (ack) => {
      this.running = false;
      if (generation === this.generation) this.onDone(ack);
      if (this.runAgain) this.reconcile();
    });
  }

  private onDone(ack: BioRecord): void {
    const { logger, metrics } = this.deps;
    if (ack.error === 0 && ack.result === this.deleted) return; // gone since: the run queued after it repairs
    if (ack.error === 0) {
      // lastPath, not path: a session that resumes after LOST finds the node it had, which is no new one.
      const previous = this.lastPath;
      this.path = ack.result;
      this.lastPath = ack.result;
      this.staleSessions = [];
      this.failures = 0;
      for (const repair of ack.values as OwnNodeRepair[]) {
        metrics.registrationRepairsTotal.inc({ repair });
        logger.warn({ path: ack.result, repair }, REPAIR_LOGS[repair] ?? repair);
      }
      if (previous !== ack.result) {
        metrics.registrationsTotal.inc();
        logger.info({ path: ack.result, sessionId: this.sessionId }, 'registered');
        this.deps.onRegistered(ack.result);
      }
      return;
    }
    if (ack.error === BioError.Cancelled || ack.error === BioError.WorkerCrashed) return;
    const delay = retryDelayMs(this.failures++);
    logger.warn({ error: ack.errName, detail: ack.result, retryInMs: delay }, 'registration failed');
    this.deps.later(delay, () => this.reconcile());
  }
}
