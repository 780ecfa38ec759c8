import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, SESSION_STATES } from '../../src/metrics.js';

const TYPES: Record<string, string> = {
  zkbio_session_state: 'gauge',
  zkbio_table_nodes: 'gauge',
  zkbio_table_version: 'gauge',
  zkbio_ack_drain_latency_seconds: 'histogram',
  zkbio_ring_used_bytes: 'gauge',
  zkbio_ring_capacity_bytes: 'gauge',
  zkbio_tasks_total: 'counter',
  zkbio_acks_total: 'counter',
  zkbio_queue_full_total: 'counter',
  zkbio_bad_peer_data_total: 'counter',
  zkbio_registrations_total: 'counter',
  zkbio_session_expiries_total: 'counter',
  zkbio_registration_repairs_total: 'counter',
};

test('render() gives every metric with its TYPE line', async () => {
  const m = createMetrics();
  m.setSessionState('CONNECTED');
  m.tableNodes.set({ type: 'gate' }, 3);
  m.tableVersion.set(7);
  m.ackDrainLatency.observe(0.00002);
  m.ringUsedBytes.set({ ring: 'task' }, 128);
  m.ringCapacityBytes.set({ ring: 'ack' }, 4 << 20);
  m.tasksTotal.inc({ cmd: 'GET' });
  m.acksTotal.inc({ cmd: 'GET' }, 2);
  m.queueFullTotal.inc();
  m.badPeerDataTotal.inc({ reason: 'not_json' });
  m.registrationsTotal.inc();
  m.sessionExpiriesTotal.inc();
  m.registrationRepairsTotal.inc({ repair: 'data' });
  const text = await m.render();
  for (const [name, type] of Object.entries(TYPES)) {
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
    assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), name);
  }
  assert.match(text, /^zkbio_table_nodes\{type="gate"\} 3$/m);
  assert.match(text, /^zkbio_acks_total\{cmd="GET"\} 2$/m);
  assert.match(text, /^zkbio_bad_peer_data_total\{reason="not_json"\} 1$/m);
  assert.match(m.contentType, /^text\/plain/);
});

test('the session-state gauge has exactly one state at 1, and every state exported', async () => {
  const m = createMetrics();
  let text = await m.render();
  for (const state of SESSION_STATES)
    assert.match(text, new RegExp(`zkbio_session_state\\{state="${state}"\\} 0`));
  m.setSessionState('CONNECTED');
  m.setSessionState('SUSPENDED');
  text = await m.render();
  const ones = text.split('\n').filter((l) => /^zkbio_session_state\{.*\} 1$/.test(l));
  assert.deepEqual(ones, ['zkbio_session_state{state="SUSPENDED"} 1']);
});

test('ack-drain buckets span 10 µs to 1 s', async () => {
  const m = createMetrics();
  m.ackDrainLatency.observe(0.5);
  const text = await m.render();
  assert.match(text, /zkbio_ack_drain_latency_seconds_bucket\{le="0.00001"\} 0/);
  assert.match(text, /zkbio_ack_drain_latency_seconds_bucket\{le="1"\} 1/);
  assert.match(text, /zkbio_ack_drain_latency_seconds_bucket\{le="\+Inf"\} 1/);
});

test('instances do not share a registry', async () => {
  const a = createMetrics();
  const b = createMetrics();
  a.registrationsTotal.inc();
  assert.match(await a.render(), /^zkbio_registrations_total 1$/m);
  assert.match(await b.render(), /^zkbio_registrations_total 0$/m);
});
