// A Bio handler that generates acks on the bio thread: a GENERATE task whose value is a SourceSpec as JSON
// emits `count` NODE_CHANGED events into the ack stream at `rate`, then returns, so the task's own ack marks
// the end of the run (acks keep their order).
import type { BioHandler, BioHandlerContext } from '../../src/bio/protocol.js';
import { newRecord } from '../../src/ring/codec.js';
import { nodeTable, pace, SourceCmd, type SourceSpec } from './ack-source.js';

export default function createAckSourceHandler(ctx: BioHandlerContext): BioHandler {
  return {
    async processCmd(task) {
      if (task.cmd !== SourceCmd.GENERATE) throw new Error(`unknown cmd ${task.cmd}`);
      const spec = JSON.parse(task.value) as SourceSpec;
      const { paths, values } = nodeTable(spec.payloadBytes);
      await pace(spec, (seq) => {
        const event = newRecord(
          SourceCmd.NODE_CHANGED,
          paths[seq % paths.length],
          values[seq % values.length],
        );
        event.result = String(seq);
        ctx.emit(event); // AckWriter stamps doneAt as it writes
      });
    },
    close() {},
  };
}
