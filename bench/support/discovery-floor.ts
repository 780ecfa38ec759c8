/**
 * The floor of bench/discovery: an idle Node process, forked beside the observer, that only samples its own
 * event-loop delay (the same histogram as the observer's, discovery-observe.ts) between 'start' and 'stop'.
 * On 2 cores shared with ZooKeeper and the peers, the scheduler alone delays any loop by some milliseconds;
 * no discovery client can beat what this process sees in the same window.
 */
import { eldHistogram } from './discovery-observe.js';

let stopWindow: (() => { eld_p99_ms: number; eld_max_ms: number }) | null = null;

if (process.send) {
  process.on('message', (cmd: { op: 'start' | 'stop' }) => {
    if (cmd.op === 'start') {
      stopWindow = eldHistogram();
      process.send?.({ ok: true });
    } else if (stopWindow) {
      process.send?.({ ok: true, ...stopWindow() });
      stopWindow = null;
    } else {
      process.send?.({ ok: false, error: 'stop without start' });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
