// The producer thread of bench/queue: on 'go' it sends `count` 64-byte records, each carrying its sequence
// number in its first 4 bytes, through the ring (mode 'ring') or as one postMessage each: a Uint8Array
// (mode 'u8', cloned per message) or a small object with a 60-character string (mode 'obj').
// postMessage has no backpressure of its own, so the main side grants credit: at most WINDOW messages in
// flight, about what the ring holds, so neither side can run away with memory.
import { parentPort, workerData } from 'node:worker_threads';
import { ByteRing } from '../../src/ring/ring.js';

export const RECORD_BYTES = 64;
export const WINDOW = 16_384;

export interface ProducerData {
  mode: 'ring' | 'u8' | 'obj';
  count: number;
  sab?: SharedArrayBuffer;
}

const port = parentPort;
if (port && workerData) {
  const { mode, count, sab } = workerData as ProducerData;
  let credit = WINDOW;
  let onCredit: (() => void) | null = null;
  port.on('message', (m: number | 'go') => {
    if (m === 'go') void produce();
    else {
      credit = m + WINDOW;
      onCredit?.();
    }
  });
  const waitForCredit = () => new Promise<void>((resolve) => (onCredit = resolve));

  async function produce(): Promise<void> {
    const record = new Uint8Array(RECORD_BYTES);
    const view = new DataView(record.buffer);
    if (mode === 'ring') {
      const ring = new ByteRing(sab as SharedArrayBuffer);
      const keepAlive = setInterval(() => {}, 1 << 30); // waitAsync alone keeps no thread alive
      for (let i = 0; i < count; i++) {
        view.setUint32(0, i, true);
        while (!ring.tryPush(record)) await ring.waitForRoom(RECORD_BYTES, 100);
      }
      clearInterval(keepAlive);
      return;
    }
    const filler = 'x'.repeat(RECORD_BYTES - 4);
    for (let i = 0; i < count; ) {
      while (i < count && i < credit) {
        if (mode === 'u8') {
          view.setUint32(0, i, true);
          port?.postMessage(record);
        } else port?.postMessage({ seq: i, data: filler });
        i++;
      }
      if (i < count) await waitForCredit();
    }
  }
  port.postMessage('ready');
}
