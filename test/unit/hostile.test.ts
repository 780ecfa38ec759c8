// Hostile input without ZooKeeper: whatever a peer writes into its znode, and whatever bytes reach the codec,
// yield a valid result or a typed refusal, quickly, never a throw or a hang. (The config's field-by-field
// refusals are in config.test.ts; random bytes into decode() in codec.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AckWriter } from '../../src/bio/ack_writer.js';
import { BioError } from '../../src/bio/protocol.js';
import { parsePeerData } from '../../src/discovery/peer.js';
import { CodecError } from '../../src/errors.js';
import { validateZkNode } from '../../src/nodes/validate.js';
import { type BioRecord, decode, encodedSize, encodeInto, newRecord } from '../../src/ring/codec.js';
import { ByteRing } from '../../src/ring/ring.js';
import { bioRecords } from '../support/records.js';

const PATH = '/kimserver/nodes/logic/kim-logic0000000001';
const REASONS = new Set(['empty', 'too_large', 'not_json', 'invalid']);

/** parsePeerData's contract on one input: a node that validates and keeps the znode's path and type, or a reason. */
function checkPeer(data: string, maxBytes = 65536): ReturnType<typeof parsePeerData> {
  const t0 = performance.now();
  const r = parsePeerData(PATH, 'logic', data, maxBytes);
  assert.ok(performance.now() - t0 < 200, 'parsed quickly');
  if (r.ok) {
    assert.ok(validateZkNode(r.node).ok);
    assert.equal(r.node.path, PATH, 'keyed by the real znode path, whatever the JSON says');
    assert.equal(r.node.type, 'logic');
  } else {
    assert.ok(REASONS.has(r.reason), r.reason);
    assert.equal(typeof r.detail, 'string');
  }
  return r;
}

// kimserver's fields, each one sometimes replaced by anything at all.
const peerObject = fc.record(
  {
    path: fc.oneof(fc.constant(PATH), fc.jsonValue()),
    type: fc.oneof(fc.constant('logic'), fc.jsonValue()),
    host: fc.oneof(fc.constant('10.0.0.5'), fc.jsonValue(), fc.string({ unit: 'binary' })),
    port: fc.oneof(fc.constant('3344'), fc.integer(), fc.double(), fc.string(), fc.jsonValue()),
    worker_cnt: fc.oneof(fc.nat({ max: 2000 }), fc.jsonValue()),
    active_time: fc.oneof(fc.double(), fc.jsonValue()),
    __proto__: fc.jsonValue(),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

// kimserver's fields, all there and each one mostly valid: a node, or a refusal that names any of them.
const validPort = fc.integer({ min: 1, max: 65535 });
const mostly = <T>(valid: fc.Arbitrary<T>, ...other: fc.Arbitrary<unknown>[]) =>
  fc.oneof({ weight: 6, arbitrary: valid }, ...other);
const nearPeerObject = fc.record({
  path: mostly(fc.constant(PATH), fc.jsonValue()),
  type: mostly(fc.constant('logic'), fc.constant('gate'), fc.jsonValue()),
  host: mostly(fc.oneof(fc.constant('10.0.0.5'), fc.ipV4(), fc.domain()), fc.jsonValue(), fc.string()),
  port: mostly(fc.oneof(validPort, validPort.map(String)), fc.integer(), fc.double(), fc.string()),
  worker_cnt: mostly(fc.integer({ min: 1, max: 1024 }), fc.nat({ max: 2000 }), fc.jsonValue()),
  active_time: mostly(
    fc.double({ min: 0, max: 2e9, noNaN: true }),
    fc.double({ max: -1e-9 }),
    fc.jsonValue(),
  ),
});

test('fuzz: peer data as arbitrary text, JSON and near-kimserver objects is a node or a typed refusal', () => {
  // Objects with every field and each mostly valid beside the rest: without them, 3,000 inputs of text,
  // JSON and near-kimserver objects made 6 nodes, and refused ~50 on worker_cnt, ~20 on active_time and
  // ~20 on type (host, port and the object's shape refused the rest first).
  const outcomes = new Map<string, number>();
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        peerObject.map((o) => JSON.stringify(o)),
        nearPeerObject.map((o) => JSON.stringify(o)),
      ),
      fc.integer({ min: 1, max: 4096 }),
      (data, maxBytes) => {
        const r = checkPeer(data, maxBytes);
        // A refusal for an invalid field is named by its first word ("host must be ...").
        const outcome = r.ok ? 'accepted' : r.reason === 'invalid' ? r.detail.split(' ')[0] : r.reason;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      },
    ),
    { numRuns: 3000 },
  );
  // The runs must accept nodes, and refuse each field, many times over.
  const count = (k: string) => outcomes.get(k) ?? 0;
  const fields = ['host', 'port', 'worker_cnt', 'active_time', 'type'];
  assert.ok(
    count('accepted') >= 100 && fields.every((f) => count(f) >= 30),
    JSON.stringify(Object.fromEntries(outcomes)),
  );
});

test('peer data built to hurt: deep nesting, huge numbers, prototype keys, oversize, lone surrogates', () => {
  const cases = [
    '['.repeat(100_000),
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    `{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5001)}`,
    '{"port": 1e999, "worker_cnt": 1e999, "active_time": 1e999, "host": "h", "type": "logic"}',
    '{"__proto__": {"host": "evil"}, "port": "1", "worker_cnt": 1, "active_time": 0, "type": "logic"}',
    '{"constructor": {"prototype": {"x": 1}}, "host": "h", "port": 1, "worker_cnt": 1, "active_time": 0}',
    `{"host": "${'h'.repeat(1_000_000)}", "port": 1, "worker_cnt": 1, "active_time": 0}`,
    '{"host": "\uD800", "port": "65535", "worker_cnt": 1024, "active_time": 0, "type": "logic"}',
    '{"host": "h", "port": "0x10", "worker_cnt": 1, "active_time": 0}',
    '{"host": "h", "port": "3344", "worker_cnt": 1, "active_time": 0, "type": "gate"}',
    'null',
    '"just a string"',
    '\u0000',
  ];
  for (const data of cases) checkPeer(data);
  const huge = parsePeerData(PATH, 'logic', cases[6], 65536);
  assert.equal(huge.ok === false && huge.reason, 'too_large');
  const deep = parsePeerData(PATH, 'logic', cases[0], 1 << 20);
  assert.equal(deep.ok === false && deep.reason, 'not_json');
  const proto = parsePeerData(PATH, 'logic', cases[4], 65536);
  assert.equal(proto.ok === false && proto.reason, 'invalid', 'a host under __proto__ is not inherited');
});

const text = fc.string({ unit: 'binary', maxLength: 30, size: 'max' });
const record = bioRecords(text, 4, fc.constant(undefined));

test('fuzz: a valid record cut short, extended or with bytes flipped decodes to a record or a CodecError', () => {
  // Sizes up to the maxima, and besides cuts of up to 60 bytes, records kept whole and cut into their
  // header: at fast-check's default sizes, 3,000 runs decoded ~45 records with bytes flipped (records were
  // small, and most were cut, ~80%) and cut ~60 into the header.
  const header = encodedSize(newRecord(0, ''));
  let decodedFlipped = 0;
  let headerCut = 0;
  let failed = 0;
  fc.assert(
    fc.property(
      record,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6, size: 'max' }),
      fc.oneof(fc.integer({ min: -60, max: 8 }), fc.constant(0), fc.integer({ min: -2000, max: -60 })),
      (r, flips, delta) => {
        const buf = Buffer.alloc(encodedSize(r) + 8);
        const n = encodeInto(r, buf, 0);
        for (const [at, byte] of flips) buf[at % n] = byte;
        const length = Math.max(0, Math.min(buf.length, n + delta));
        if (length < header) headerCut++;
        try {
          // Flipped bytes may be invalid UTF-8, which decodes to U+FFFD: a record, just not the one sent.
          const got = decode(buf, 0, length);
          assert.ok(Array.isArray(got.values) && typeof got.path === 'string');
          if (flips.length > 0) decodedFlipped++;
        } catch (e) {
          assert.ok(e instanceof CodecError, `unexpected ${String(e)}`);
          failed++;
        }
      },
    ),
    { numRuns: 3000 },
  );
  // The runs must decode records with bytes flipped, cut into headers and fail otherwise, many times over.
  assert.ok(
    decodedFlipped >= 300 && headerCut >= 300 && failed >= 1000,
    `${decodedFlipped} decoded with bytes flipped, ${headerCut} cut into the header, ${failed} CodecErrors`,
  );
});

test('a record too large for the ack ring by its words alone is shrunk to RecordTooLarge too, not thrown', async () => {
  const ring = new ByteRing(ByteRing.allocate(4096)); // records up to 2,044 bytes
  const writer = new AckWriter(ring);
  const big = newRecord(25, '/points');
  big.words = new Uint32Array(1000);
  await writer.write(big);
  const got: BioRecord[] = [];
  ring.drain(10, (b, o, l) => got.push(decode(b, o, l)));
  assert.equal(got.length, 1);
  assert.equal(got[0].error, BioError.RecordTooLarge);
  assert.equal(got[0].words, undefined);
});

test('an ack or event too large for the ack ring arrives as a small RecordTooLarge failure, in order', async () => {
  const ring = new ByteRing(ByteRing.allocate(4096));
  const writer = new AckWriter(ring);
  const big = newRecord(25, `/${'p'.repeat(5000)}`, 'x'.repeat(10_000), ['a', 'b']);
  big.id = 7;
  const after = newRecord(3, '/next', 'ok');
  after.id = 8;
  await writer.write(big);
  await writer.write(after);
  const got: BioRecord[] = [];
  ring.drain(10, (b, o, l) => got.push(decode(b, o, l)));
  assert.equal(got.length, 2);
  assert.equal(got[0].id, 7);
  assert.equal(got[0].cmd, 25);
  assert.equal(got[0].error, BioError.RecordTooLarge);
  assert.equal(got[0].errName, 'RecordTooLarge');
  assert.equal(got[0].value, '');
  assert.deepEqual(got[0].values, []);
  assert.ok(big.path.startsWith(got[0].path) && got[0].path.length > 0, 'a prefix of the path is kept');
  assert.ok(Number(got[0].result) > ring.maxRecordBytes, 'result holds the size it had');
  assert.equal(got[1].value, 'ok');
});
