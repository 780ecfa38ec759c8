// Every zkbio metric name follows Prometheus conventions: snake_case with the zkbio_ prefix, counters end in
// _total, and units are base units in the name's suffix (seconds, bytes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/metrics.js';

test('metric names follow Prometheus conventions', async () => {
  const m = createMetrics({ defaultMetrics: false });
  const types = [...(await m.render()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({
    name,
    type,
  }));
  assert.ok(types.length >= 13);
  for (const { name, type } of types) {
    assert.match(name, /^zkbio_[a-z][a-z0-9_]*[a-z0-9]$/, name);
    if (type === 'counter') assert.match(name, /_total$/, name);
    else assert.doesNotMatch(name, /_total$/, name);
    if (type === 'histogram') assert.match(name, /_seconds$/, name);
    assert.doesNotMatch(name, /_(ms|milliseconds|us|kb|mb|records)(_|$)/, name);
  }
});

test('default metrics are on unless turned off', async () => {
  assert.match(await createMetrics().render(), /^# TYPE process_cpu_user_seconds_total counter$/m);
  assert.doesNotMatch(await createMetrics({ defaultMetrics: false }).render(), /process_/);
});
