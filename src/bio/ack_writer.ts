/**
 * The worker's single writer into the ack ring. Acks and events go out in the order they are written; when
 * the ring is full they wait in a backlog (never dropped) and a flusher waits for room on the ring's doorbell.
 */
import { monoNow } from '../clock.js';
import { type BioRecord, encodedSize, tryPushRecord } from '../ring/codec.js';
import type { ByteRing } from '../ring/ring.js';

export class AckWriter {
  private readonly backlog: BioRecord[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly ring: ByteRing) {}

  /** Stamps `doneAt` and queues the record. Resolves once it is in the ring, so a task loop feels backpressure. */
  write(record: BioRecord): Promise<void> {
    record.doneAt = monoNow();
    if (this.backlog.length === 0 && tryPushRecord(this.ring, record)) return Promise.resolve();
    this.backlog.push(record);
    this.flushing ??= this.flush();
    return this.flushing;
  }

  /** Resolves when everything written so far is in the ring. */
  drained(): Promise<void> {
    return this.flushing ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    let i = 0;
    while (i < this.backlog.length) {
      const record = this.backlog[i];
      if (tryPushRecord(this.ring, record)) {
        i++;
        continue;
      }
      await this.ring.waitForRoom(encodedSize(record), 100);
    }
    this.backlog.length = 0;
    this.flushing = null;
  }
}
