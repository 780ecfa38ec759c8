// The postMessage bridge's producer: a plain worker_threads Worker that posts each ack as its own message,
// a plain object with the BioRecord's fields (structured clone), paced exactly like the Bio handler. Each
// request `{ spec, tag }` ends with a `{ done: tag }` message.
import { parentPort } from 'node:worker_threads';
import { monoNow } from '../../src/clock.js';
import { nodeTable, pace, SourceCmd, type SourceSpec } from './ack-source.js';

const port = parentPort;
if (!port) throw new Error('post-source-worker must run in a worker thread');

port.on('message', async ({ spec, tag }: { spec: SourceSpec; tag: number }) => {
  const { paths, values } = nodeTable(spec.payloadBytes);
  await pace(spec, (seq) => {
    port.postMessage({
      cmd: SourceCmd.NODE_CHANGED,
      id: 0,
      createdAt: 0,
      doneAt: monoNow(),
      path: paths[seq % paths.length],
      value: values[seq % values.length],
      error: 0,
      errName: '',
      result: String(seq),
      values: [],
    });
  });
  port.postMessage({ done: tag });
});
