// The bad-peer list behind the warn-once log and the status page: once per path, the latest reason, gone
// when a listing no longer has it, and bounded against a peer that creates bad znodes without end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadPeers } from '../../src/discovery/bad_peers.js';

const F = '/kimserver/nodes/logic';

test('a path is new once; the latest reason wins and it keeps its first time', () => {
  const bad = new BadPeers();
  assert.equal(bad.note(`${F}/a`, 'logic', 'empty', 'the node has no data'), true);
  const since = bad.list()[0].since;
  assert.equal(bad.note(`${F}/a`, 'logic', 'not_json', 'data is not JSON'), false);
  assert.deepEqual(bad.list(), [
    { path: `${F}/a`, type: 'logic', reason: 'not_json', detail: 'data is not JSON', since },
  ]);
  bad.forget(`${F}/a`);
  assert.equal(bad.size, 0);
  assert.equal(bad.note(`${F}/a`, 'logic', 'empty', 'again'), true);
});

test('a listing forgets the bad peers of its folder that it no longer has, and only those', () => {
  const bad = new BadPeers();
  for (const p of [`${F}/a`, `${F}/b`, `${F}/c/deeper`, '/kimserver/nodes/cache/a'])
    bad.note(p, 'logic', 'invalid', 'x');
  bad.forgetGone(F, ['b', 'c']);
  assert.deepEqual(
    bad.list().map((b) => b.path),
    [`${F}/b`, `${F}/c/deeper`, '/kimserver/nodes/cache/a'],
  );
});

test('past its bound the oldest is forgotten', () => {
  const bad = new BadPeers(3);
  for (const n of ['a', 'b', 'c', 'd']) bad.note(`${F}/${n}`, 'logic', 'invalid', n);
  assert.deepEqual(
    bad.list().map((b) => b.detail),
    ['b', 'c', 'd'],
  );
  assert.equal(bad.note(`${F}/a`, 'logic', 'invalid', 'a'), true, 'a forgotten path is new again');
});
