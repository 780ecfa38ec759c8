// Typed errors that cross zkbio's public surface. Each carries a stable `code` for callers that switch on it:
// a string such as 'QUEUE_FULL', or for a failed ZooKeeper call (ZkError) the C client's zoo_rc number, with
// its name in `codeName`.

export class ZkbioError<Code extends string | number = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The task ring had no room: the caller decides whether to retry, shed or fail. Nothing was queued. */
export class QueueFullError extends ZkbioError {
  constructor(
    readonly recordBytes: number,
    readonly freeBytes: number,
  ) {
    super(
      'QUEUE_FULL',
      `task queue is full: a ${recordBytes}-byte task does not fit in ${freeBytes} free bytes`,
    );
  }
}

/** A record can never fit in the ring, whatever the consumer does. */
export class RecordTooLargeError extends ZkbioError {
  constructor(
    readonly recordBytes: number,
    readonly maxRecordBytes: number,
  ) {
    super(
      'RECORD_TOO_LARGE',
      `record of ${recordBytes} bytes is larger than the ring allows (${maxRecordBytes} bytes at most)`,
    );
  }
}

/** A config field is wrong. `field` is its dotted path in config.json, e.g. `zookeeper.servers`. */
export class ConfigError extends ZkbioError {
  constructor(
    readonly field: string,
    /** What is wrong, without the field: "must be …; got …". */
    readonly problem: string,
  ) {
    super('CONFIG_INVALID', `config field "${field}" ${problem}`);
  }
}

/** Data that arrived in the ring and cannot be decoded: a bug or memory corruption, never silently skipped. */
export class CodecError extends ZkbioError {
  constructor(message: string) {
    super('CODEC_ERROR', message);
  }
}

/** A load report too large to cross to the bio thread in one task: refused by setPayload(), nothing changed. */
export class PayloadTooLargeError extends ZkbioError {
  constructor(
    readonly payloadBytes: number,
    readonly maxPayloadBytes: number,
  ) {
    super(
      'PAYLOAD_TOO_LARGE',
      `payload of ${payloadBytes} bytes (as JSON) is larger than a task allows: ${maxPayloadBytes} bytes at most ` +
        '(raise bio.task_ring_bytes for more)',
    );
  }
}
