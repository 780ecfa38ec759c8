import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../src/discovery/config.js';
import { loadConfigFile } from '../../src/discovery/config_file.js';
import { ConfigError } from '../../src/errors.js';

const SECRET = 'S3cr3t-pw!';

// kimserver's documented config.json (co_kimserver README), comments removed.
function kimserverConfig(): Record<string, unknown> {
  return {
    server_name: 'kim-gate',
    worker_cnt: 1,
    node_type: 'gate',
    node_host: '127.0.0.1',
    node_port: 3344,
    gate_host: '127.0.0.1',
    gate_port: 3355,
    gate_codec: 'protobuf',
    keep_alive: 30,
    log_path: 'kimserver.log',
    log_level: 'info',
    modules: ['module_test.so'],
    redis: { test: { host: '127.0.0.1', port: 6379 } },
    database: {
      test: {
        host: '127.0.0.1',
        port: 3306,
        user: 'root',
        password: 'root123!@#',
        charset: 'utf8mb4',
        max_conn_cnt: 5,
      },
    },
    zookeeper: {
      servers: '127.0.0.1:2181',
      log_path: 'zk.log',
      nodes: { root: '/kimserver/nodes', subscribe_node_type: ['gate', 'logic'] },
      payload: { root: '/kimserver/payload' },
    },
  };
}

/** The kimserver config with one dotted field set (undefined deletes it). */
function withField(field: string, value: unknown): Record<string, unknown> {
  const cfg = kimserverConfig();
  const keys = field.split('.');
  let obj = cfg;
  for (const k of keys.slice(0, -1)) {
    if (typeof obj[k] !== 'object' || obj[k] === null) obj[k] = {};
    obj = obj[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === undefined) delete obj[last];
  else obj[last] = value;
  return cfg;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig accepts', () => {
  test("kimserver's config.json as is, with defaults for zkbio's additions", () => {
    const cfg = parseConfig(kimserverConfig());
    assert.equal(cfg.serverName, 'kim-gate');
    assert.equal(cfg.nodeType, 'gate');
    assert.equal(cfg.nodeHost, '127.0.0.1');
    assert.equal(cfg.nodePort, 3344);
    assert.equal(cfg.workerCnt, 1);
    assert.deepEqual(cfg.zookeeper, {
      servers: '127.0.0.1:2181',
      hosts: [{ host: '127.0.0.1', port: 2181 }],
      chroot: null,
      nodesRoot: '/kimserver/nodes',
      subscribeNodeTypes: ['gate', 'logic'],
      payloadRoot: '/kimserver/payload',
      sessionTimeoutMs: 10000,
      connectTimeoutMs: 10000,
      callTimeoutMs: 10000,
      payloadIntervalMs: 1000,
      maxNodeBytes: 65536,
      persistentWatches: true,
      auth: null,
      logLevel: 'info',
    });
    assert.deepEqual(cfg.bio, {
      maxAcksPerTick: 100,
      tickMs: 10,
      doorbell: true,
      taskRingBytes: 262144,
      ackRingBytes: 4194304,
    });
    assert.deepEqual(cfg.warnings, [], "kimserver's own keys are not worth a warning");
  });

  test('a minimal config, defaults filled in', () => {
    const cfg = parseConfig({
      server_name: 's',
      node_type: 't',
      node_host: 'h',
      node_port: 1,
      worker_cnt: 1,
    });
    assert.equal(cfg.zookeeper.servers, '127.0.0.1:2181');
    assert.equal(cfg.zookeeper.nodesRoot, '/kimserver/nodes');
    assert.equal(cfg.zookeeper.payloadRoot, '/kimserver/payload');
    assert.deepEqual(cfg.zookeeper.subscribeNodeTypes, ['gate', 'logic']);
    assert.deepEqual(cfg.metrics, { defaultMetrics: true });
  });

  test("the drain timer: the doorbell's 10 ms backstop by default, 1 ms when the timer is the drain", () => {
    const base = { server_name: 's', node_type: 't', node_host: 'h', node_port: 1, worker_cnt: 1 };
    assert.equal(parseConfig(base).bio.tickMs, 10);
    assert.equal(parseConfig({ ...base, bio: { doorbell: false } }).bio.tickMs, 1);
    assert.equal(parseConfig({ ...base, bio: { tick_ms: 3 } }).bio.tickMs, 3);
  });

  test('metrics.default_metrics turns prom-client default metrics off', () => {
    const base = { server_name: 's', node_type: 't', node_host: 'h', node_port: 1, worker_cnt: 1 };
    assert.equal(parseConfig({ ...base, metrics: { default_metrics: false } }).metrics.defaultMetrics, false);
    assert.throws(
      () => parseConfig({ ...base, metrics: { default_metrics: 'no' } }),
      /config field "metrics.default_metrics" must be true or false; got "no"/,
    );
  });

  test("every zkbio key, and the port as kimserver's numeric string", () => {
    const raw = kimserverConfig();
    raw.node_port = '3344';
    raw.zookeeper = {
      servers: 'zk1:2181,zk2,10.0.0.3:2182/apps/kim',
      nodes: { root: '/k/nodes', subscribe_node_type: [] },
      payload: { root: '/k/payload' },
      session_timeout: 4000,
      connect_timeout: 2000,
      call_timeout: 3000,
      payload_interval: 500,
      max_node_bytes: 4096,
      auth: `kim:${SECRET}:with-colon`,
      log_level: 'debug',
    };
    raw.bio = {
      max_acks_per_tick: 50,
      tick_ms: 5,
      doorbell: false,
      task_ring_bytes: 4096,
      ack_ring_bytes: 8192,
    };
    const cfg = parseConfig(raw);
    assert.equal(cfg.nodePort, 3344);
    assert.equal(cfg.zookeeper.servers, 'zk1:2181,zk2:2181,10.0.0.3:2182/apps/kim');
    assert.equal(cfg.zookeeper.chroot, '/apps/kim');
    assert.deepEqual(cfg.zookeeper.hosts[1], { host: 'zk2', port: 2181 });
    assert.deepEqual(cfg.zookeeper.subscribeNodeTypes, []);
    assert.deepEqual(cfg.zookeeper.auth, { scheme: 'digest', user: 'kim', password: `${SECRET}:with-colon` });
    assert.equal(cfg.zookeeper.logLevel, 'debug');
    assert.deepEqual(cfg.bio, {
      maxAcksPerTick: 50,
      tickMs: 5,
      doorbell: false,
      taskRingBytes: 4096,
      ackRingBytes: 8192,
    });
  });

  test('hosts: names, IPv4, IPv6 for node_host, underscores, trailing dot; a lone "/" is no chroot', () => {
    for (const h of ['::1', 'fe80::1', 'zk_1', 'gate-1.example.com.', '10.0.0.5']) {
      assert.equal(parseConfig(withField('node_host', h)).nodeHost, h);
    }
    assert.equal(parseConfig(withField('zookeeper.servers', 'zk:2181/')).zookeeper.chroot, null);
    assert.equal(
      parseConfig(withField('zookeeper.nodes.root', '/zookeeperish')).zookeeper.nodesRoot,
      '/zookeeperish',
    );
    // With a chroot, /zookeeper is an ordinary path.
    const chrooted = withField('zookeeper.servers', 'zk/app');
    (chrooted.zookeeper as Record<string, unknown>).nodes = { root: '/zookeeper/nodes' };
    assert.equal(parseConfig(chrooted).zookeeper.nodesRoot, '/zookeeper/nodes');
  });

  test('the result is deeply frozen', () => {
    const cfg = parseConfig(withField('zookeeper.auth', 'u:p'));
    for (const o of [
      cfg,
      cfg.zookeeper,
      cfg.bio,
      cfg.warnings,
      cfg.zookeeper.hosts,
      cfg.zookeeper.hosts[0],
    ]) {
      assert.ok(Object.isFrozen(o));
    }
    assert.ok(Object.isFrozen(cfg.zookeeper.subscribeNodeTypes));
    assert.ok(Object.isFrozen(cfg.zookeeper.auth));
  });

  test('unknown keys become warnings, with a suggestion for a likely typo', () => {
    const raw = withField('zookeeper.sesion_timeout', 5000);
    raw.colour = 'blue';
    (raw.bio as unknown) = { doorbel: false };
    const cfg = parseConfig(raw);
    assert.deepEqual(cfg.warnings, [
      'unknown config key "colour" is ignored',
      'unknown config key "zookeeper.sesion_timeout" is ignored (did you mean "zookeeper.session_timeout"?)',
      'unknown config key "bio.doorbel" is ignored (did you mean "bio.doorbell"?)',
    ]);
    assert.equal(cfg.zookeeper.sessionTimeoutMs, 10000);
  });

  test('an inherited property is never read as a key', () => {
    const raw = Object.assign(Object.create(null), kimserverConfig());
    assert.equal(parseConfig(raw).serverName, 'kim-gate');
    assert.equal(configError(() => parseConfig(withField('server_name', undefined))).field, 'server_name');
  });
});

// [field, bad value, what the message must say]. The value replaces the field in kimserver's config.
type Case = [string, unknown, RegExp];
const NAME_CASES = (field: string): Case[] => [
  [field, undefined, /is required/],
  [field, 42, /must be a string.*got 42/],
  [field, null, /must be a string.*got null/],
  [field, ['gate'], /got an array/],
  [field, '', /must not be empty/],
  [field, 'a/b', /must not contain "\/"/],
  [field, '.', /must not be "\." or "\.\."/],
  [field, '..', /must not be "\." or "\.\."/],
  [field, ' gate', /whitespace/],
  [field, 'gate\n', /whitespace/],
  [field, 'ga\u0001te', /U\+0001 at index 2.*got "ga\\u0001te"/],
  [field, 'ga\u0085te', /U\+0085/],
  [field, 'gate\u{1F600}', /U\+D83D/],
  [field, 'gate\uE000', /U\+E000/],
  [field, 'gate\uFFFE', /U\+FFFE/],
  [field, 'x'.repeat(129), /at most 128 characters/],
];
const INT_CASES = (field: string, min: number, max: number): Case[] => [
  [field, min - 1, new RegExp(`from ${min} to ${max}.*got ${min - 1}`)],
  [field, max + 1, new RegExp(`from ${min} to ${max}.*got ${max + 1}`)],
  [field, min + 0.5, /integer/],
  [field, String(min), new RegExp(`got "${min}"`)],
  [field, null, /got null/],
  [field, true, /got true/],
  [field, {}, /got an object/],
  [field, Number.NaN, /got NaN/],
  [field, Number.POSITIVE_INFINITY, /got Infinity/],
];
const PATH_CASES = (field: string): Case[] => [
  [field, 42, /must be a znode path string/],
  [field, '', /must not be empty/],
  [field, 'kimserver/nodes', /absolute path/],
  [field, '/', /must not be "\/" itself/],
  [field, '/kimserver/nodes/', /must not end with "\/"/],
  [field, '/kimserver//nodes', /empty segment/],
  [field, '/kimserver/./nodes', /"\." segment/],
  [field, '/kimserver/../nodes', /"\.\." segment/],
  [field, '/kim\u0000server', /U\+0000/],
  [field, '/kim\u001fserver', /U\+001F/],
  [field, '/kim\u007fserver', /U\+007F/],
  [field, '/kim\uD800server', /U\+D800/],
  [field, '/kim\uFFF0server', /U\+FFF0/],
  [field, '/zookeeper/nodes', /reserves/],
  [field, `/${'x'.repeat(1024)}`, /at most 1024 characters/],
];

const CASES: Case[] = [
  ...NAME_CASES('server_name'),
  ...NAME_CASES('node_type'),
  ['node_host', undefined, /is required/],
  ['node_host', 1, /must be a string.*got 1/],
  ['node_host', '', /is empty/],
  ['node_host', '0.0.0.0', /wildcard/],
  ['node_host', '::', /wildcard/],
  ['node_host', '999.1.1.1', /not a valid IPv4 address.*got "999\.1\.1\.1"/],
  ['node_host', 'bad host', /neither a host name nor an IP address/],
  ['node_host', '-gate.example.com', /neither/],
  ['node_host', 'a..b', /neither/],
  ['node_host', `${'a'.repeat(60)}.`.repeat(5), /longer than 253/],
  ['node_port', undefined, /is required/],
  ['node_port', 0, /port number from 1 to 65535.*got 0/],
  ['node_port', 65536, /got 65536/],
  ['node_port', -1, /got -1/],
  ['node_port', 33.5, /got 33\.5/],
  ['node_port', '', /got ""/],
  ['node_port', '33a', /got "33a"/],
  ['node_port', ' 3344', /got " 3344"/],
  ['node_port', '70000', /got "70000"/],
  ['node_port', '0x10', /got "0x10"/],
  ['node_port', true, /got true/],
  ['node_port', null, /got null/],
  ['node_port', [3344], /got an array/],
  ['worker_cnt', undefined, /is required: an integer from 1 to 256/],
  ...INT_CASES('worker_cnt', 1, 256),
  ['zookeeper', 'zk:2181', /must be a JSON object; got "zk:2181"/],
  ['zookeeper', [], /got an array/],
  ['zookeeper', null, /got null/],
  ['zookeeper.servers', 2181, /connect string.*got 2181/],
  ['zookeeper.servers', '', /must not be empty/],
  ['zookeeper.servers', 'zk1:2181, zk2:2181', /whitespace/],
  ['zookeeper.servers', 'zk1:2181,,zk2:2181', /empty server entry/],
  ['zookeeper.servers', 'zk1:2181,', /empty server entry/],
  ['zookeeper.servers', ',zk1', /empty server entry/],
  ['zookeeper.servers', '/chroot', /empty server entry/],
  ['zookeeper.servers', 'zk1:0', /port is not from 1 to 65535/],
  ['zookeeper.servers', 'zk1:65536', /port is not from 1 to 65535/],
  ['zookeeper.servers', 'zk1:', /port is not from 1 to 65535/],
  ['zookeeper.servers', 'zk1:abc', /port is not from 1 to 65535/],
  ['zookeeper.servers', '[::1]:2181', /IPv6/],
  ['zookeeper.servers', '::1', /IPv6/],
  ['zookeeper.servers', ':2181', /host "" that is empty/],
  ['zookeeper.servers', 'bad_host!:2181', /neither a host name/],
  ['zookeeper.servers', '300.1.1.1:2181', /not a valid IPv4/],
  ['zookeeper.servers', 'zk1,zk1:2181', /lists zk1:2181 twice/],
  ['zookeeper.servers', 'zk1:2181/app/', /chroot "\/app\/" that must not end/],
  ['zookeeper.servers', 'zk1:2181//app', /chroot "\/\/app" that must not contain an empty segment/],
  ['zookeeper.servers', 'zk1:2181/app/../x', /".." segment/],
  ['zookeeper.servers', 'zk1:2181/a\u0001', /U\+0001/],
  ['zookeeper.nodes', 'x', /must be a JSON object/],
  ['zookeeper.nodes', [], /got an array/],
  ...PATH_CASES('zookeeper.nodes.root'),
  ['zookeeper.nodes.subscribe_node_type', 'gate', /must be an array.*got "gate"/],
  ['zookeeper.nodes.subscribe_node_type', {}, /must be an array.*got an object/],
  ['zookeeper.nodes.subscribe_node_type', null, /got null/],
  ['zookeeper.payload', 5, /must be a JSON object; got 5/],
  ...PATH_CASES('zookeeper.payload.root'),
  ['zookeeper.payload.root', '/kimserver/nodes', /must not be, contain or lie inside zookeeper\.nodes\.root/],
  ['zookeeper.payload.root', '/kimserver/nodes/payload', /lie inside/],
  ['zookeeper.payload.root', '/kimserver', /contain/],
  ...INT_CASES('zookeeper.session_timeout', 1000, 600000),
  ...INT_CASES('zookeeper.connect_timeout', 100, 600000),
  ...INT_CASES('zookeeper.call_timeout', 100, 600000),
  ...INT_CASES('zookeeper.payload_interval', 100, 3600000),
  ...INT_CASES('zookeeper.max_node_bytes', 256, 1048576),
  [
    'zookeeper.log_level',
    'verbose',
    /must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"/,
  ],
  ['zookeeper.log_level', 'INFO', /got "INFO"/],
  ['zookeeper.log_level', 30, /got 30/],
  ['zookeeper.log_level', '', /got ""/],
  ['bio', 'fast', /must be a JSON object/],
  ...INT_CASES('bio.max_acks_per_tick', 1, 100000),
  ...INT_CASES('bio.tick_ms', 1, 1000),
  ['bio.doorbell', 'true', /must be true or false; got "true"/],
  ['bio.doorbell', 1, /got 1/],
  ['bio.doorbell', null, /got null/],
  ...INT_CASES('bio.task_ring_bytes', 4096, 268435456),
  ...INT_CASES('bio.ack_ring_bytes', 4096, 268435456),
  ['bio.task_ring_bytes', 5000, /power of two.*got 5000/],
  ['bio.ack_ring_bytes', 12288, /power of two.*got 12288/],
  ['bio.ack_ring_bytes', 65536, /at least twice zookeeper\.max_node_bytes \(65536\).*got 65536/],
];

describe('parseConfig refuses, naming the field', () => {
  for (const [field, value, message] of CASES) {
    const shown =
      value === undefined || typeof value === 'number' ? String(value) : JSON.stringify(value).slice(0, 40);
    test(`${field} = ${shown}`, () => {
      const err = configError(() => parseConfig(withField(field, value)));
      assert.equal(err.field, field, err.message);
      assert.ok(err.message.startsWith(`config field "${field}" `), err.message);
      assert.match(err.message, message);
      assert.ok(err.message.length < 400, 'a message stays readable');
    });
  }

  test('a config that is not an object', () => {
    for (const raw of [undefined, null, 'config', 42, [], new Map(), new Date()]) {
      const err = configError(() => parseConfig(raw));
      assert.equal(err.field, '(root)');
      assert.match(err.message, /must be a JSON object/);
    }
  });

  test('subscribe_node_type entries are named by index', () => {
    const cases: [unknown[], string, RegExp][] = [
      [[1], '[0]', /must be a string.*got 1/],
      [['gate', ''], '[1]', /must not be empty/],
      [['gate', 'a/b'], '[1]', /"\/"/],
      [['gate', 'logic', 'gate'], '[2]', /repeats "gate", already at index 0/],
      [['gate', null], '[1]', /got null/],
      [['gate', '\u0000'], '[1]', /U\+0000/],
    ];
    for (const [types, index, message] of cases) {
      const err = configError(() => parseConfig(withField('zookeeper.nodes.subscribe_node_type', types)));
      assert.equal(err.field, `zookeeper.nodes.subscribe_node_type${index}`);
      assert.match(err.message, message);
    }
  });

  test('a long value is cut short in the message', () => {
    const err = configError(() => parseConfig(withField('node_port', '9'.repeat(10_000))));
    assert.ok(err.message.length < 300);
    assert.match(err.message, /…"/);
  });
});

describe('the auth password never appears in a message', () => {
  const cases: [unknown, RegExp][] = [
    [`kim${SECRET}`, /has no ":"/],
    [`:${SECRET}`, /empty user/],
    ['kim:', /empty password/],
    [`kim:${SECRET}\u0001`, /control character/],
    [`kim\n:${SECRET}`, /control character/],
    ['', /has no ":"/],
    [424242, /got a number \(value not shown\)/],
    [{ user: 'kim', password: SECRET }, /got an object/],
    [[SECRET], /got an array/],
    [null, /got null/],
  ];
  for (const [value, message] of cases) {
    test(`zookeeper.auth = ${typeof value}`, () => {
      const err = configError(() => parseConfig(withField('zookeeper.auth', value)));
      assert.equal(err.field, 'zookeeper.auth');
      assert.match(err.message, message);
      assert.ok(!err.message.includes(SECRET) && !err.message.includes('424242'), err.message);
    });
  }

  test('nor does it when another field is wrong', () => {
    for (const [field, value] of CASES) {
      const raw = withField(field, value);
      if (field !== 'zookeeper') (raw.zookeeper as Record<string, unknown>).auth = `kim:${SECRET}`;
      const err = configError(() => parseConfig(raw));
      assert.ok(!err.message.includes(SECRET), err.message);
    }
  });
});

// Fields checked against another one: an edit of the other can make the error name this one.
const CROSS_CHECKED: Record<string, string[]> = {
  'zookeeper.payload.root': ['zookeeper.nodes.root'],
  'bio.ack_ring_bytes': ['zookeeper.max_node_bytes'],
};

describe('any input gives a config or a ConfigError, nothing else', () => {
  const fields = [...new Set([...CASES.map(([f]) => f), 'zookeeper.auth'])];
  const nasty = fc.oneof(
    fc.jsonValue(),
    fc.string(),
    fc.constantFrom('', '/', '//', '.', '..', ':', '0.0.0.0', '\u0000', '\uD800', '__proto__', 'constructor'),
    fc.integer(),
    fc.double(),
  );

  test('arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (raw) => {
        try {
          parseConfig(raw);
        } catch (e) {
          assert.ok(e instanceof ConfigError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a kimserver config with random fields set to random values; the error names one of them', () => {
    // Up to 4 edits, each a random value, a field's own bad value from CASES, or a good value (some of them
    // clash with a field checked against this one), at full sizes: at fast-check's default small sizes and
    // random values only, 2,000 runs made ~1.9 edits each, parsed 29 edited configs and never named a field
    // checked against the edited one (~25 fields named, as now).
    const good: [string, unknown][] = [
      ['zookeeper.nodes.root', '/kimserver'], // contains the payload root: the payload root is named
      ['zookeeper.nodes.root', '/kimserver/payload/nodes'], // inside it: named too
      ['zookeeper.nodes.root', '/zk/nodes'],
      ['zookeeper.payload.root', '/zk/payload'],
      ['zookeeper.max_node_bytes', 1048576],
      ['bio.ack_ring_bytes', 1 << 20], // under twice a max_node_bytes of 1048576
      ['node_port', 1],
      ['worker_cnt', 4],
      ['server_name', 'kim-logic'],
      ['node_type', 'logic'],
    ];
    const edit = fc.oneof(
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...fields), nasty) },
      { weight: 2, arbitrary: fc.constantFrom(...CASES.map(([f, v]): [string, unknown] => [f, v])) },
      { weight: 1, arbitrary: fc.constantFrom(...good) },
    );
    let parsed = 0;
    let crossBlamed = 0;
    const named = new Set<string>();
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 4, size: 'max' }), (edits) => {
        let raw = kimserverConfig();
        for (const [field, value] of edits) {
          const next = withField(field, value);
          // Apply the edits cumulatively onto one object.
          raw = mergeEdit(raw, field, next);
        }
        try {
          parseConfig(JSON.parse(JSON.stringify(raw)));
          if (edits.length > 0) parsed++;
        } catch (e) {
          assert.ok(e instanceof ConfigError, String(e));
          const field = e.field.replace(/\[\d+\]$/, '');
          const blamed = [field, ...(CROSS_CHECKED[field] ?? [])];
          assert.ok(
            edits.some(([f]) => blamed.some((b) => f === b || b.startsWith(`${f}.`))),
            `${e.field} was not edited: ${e.message}`,
          );
          named.add(field);
          if (!edits.some(([f]) => f === field || field.startsWith(`${f}.`))) crossBlamed++;
        }
      }),
      { numRuns: 2000 },
    );
    // The runs must parse edited configs, name many fields, and name fields checked against an edited one.
    assert.ok(
      parsed >= 50 && named.size >= 20 && crossBlamed >= 25,
      `${parsed} edited configs parsed, ${named.size} fields named, ${crossBlamed} named for another's edit`,
    );
  });

  test('objects with prototype-named keys', () => {
    const raw = JSON.parse(
      '{"__proto__": {"server_name": "x"}, "constructor": 1, "zookeeper": {"__proto__": []}}',
    );
    const err = configError(() => parseConfig(raw));
    assert.equal(err.field, 'server_name');
  });
});

/** Copies `field` from `edited` into `raw`, creating or replacing sections as withField did. */
function mergeEdit(raw: Record<string, unknown>, field: string, edited: Record<string, unknown>) {
  const keys = field.split('.');
  let to = raw;
  let from = edited;
  for (const k of keys.slice(0, -1)) {
    if (typeof to[k] !== 'object' || to[k] === null || Array.isArray(to[k])) to[k] = {};
    to = to[k] as Record<string, unknown>;
    from = from[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (Object.hasOwn(from, last)) to[last] = from[last];
  else delete to[last];
  return raw;
}

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zkbio-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('reads a kimserver config.json, BOM or not', () => {
    assert.equal(
      loadConfigFile(file('a.json', JSON.stringify(kimserverConfig(), null, 4))).serverName,
      'kim-gate',
    );
    assert.equal(
      loadConfigFile(file('bom.json', `\uFEFF${JSON.stringify(kimserverConfig())}`)).nodePort,
      3344,
    );
  });

  test('a missing file, a directory, or a huge file is named as such', () => {
    const missing = join(dir, 'nope.json');
    let err = configError(() => loadConfigFile(missing));
    assert.equal(err.field, '(file)');
    assert.ok(err.message.includes(missing) && /no such file/.test(err.message), err.message);
    err = configError(() => loadConfigFile(dir));
    assert.match(err.message, /directory/);
    err = configError(() => loadConfigFile(file('big.json', ' '.repeat((1 << 20) + 1))));
    assert.match(err.message, /larger than 1048576 bytes/);
  });

  test('bad JSON is located by line and column, with a hint for the usual mistakes', () => {
    const cases: [string, RegExp][] = [
      [
        '{\n  "node_type": "gate",\n  # the port\n  "node_port": 1\n}',
        /line 3, column 3: .*\(JSON has no comments\)/,
      ],
      ['{\n  "a": 1 // why\n}', /line 2, column 10: .*\(JSON has no comments\)/],
      ["{'a': 1}", /line 1, column 2: .*\(use double quotes\)/],
      ['{"a": 1,\n}', /line 2, column 1: trailing comma/],
      ['[1, 2,]', /line 1, column 7: trailing comma/],
      ['{"a": 1 "b": 2}', /line 1, column 9: expected "," or "}"/],
      ['{"a" 1}', /line 1, column 6: expected ":"/],
      ['{"a": "x', /unterminated string/],
      ['{"a": "\\q"}', /bad escape/],
      ['{"a": tru}', /line 1, column 7: unexpected "t"/],
      ['', /line 1, column 1: unexpected end of input/],
      ['{} {}', /line 1, column 4: unexpected text after the JSON value/],
      ['{"a": -}', /unexpected "-"/],
    ];
    for (const [text, message] of cases) {
      const err = configError(() => loadConfigFile(file('bad.json', text)));
      assert.equal(err.field, '(file)');
      assert.match(err.message, /is not valid JSON/);
      assert.match(err.message, message, `${JSON.stringify(text)} → ${err.message}`);
    }
  });

  test('a JSON error next to the auth value does not quote it', () => {
    for (const text of [
      `{"zookeeper": {"auth": "kim:${SECRET}" x}}`,
      `{"zookeeper": {"auth": kim:${SECRET}}}`,
      `{"zookeeper": {"auth": "kim:${SECRET}\n"}}`,
      `{"zookeeper": {"auth": "kim:${SECRET}`,
    ]) {
      const err = configError(() => loadConfigFile(file('secret.json', text)));
      assert.ok(!err.message.includes(SECRET) && !err.message.includes('kim:'), err.message);
    }
  });

  test('a hand edit that breaks a config file is located at the edit, with its hint, and never quoted', () => {
    const path = join(dir, 'edited.json');
    const good = JSON.stringify(withField('zookeeper.auth', `kim:${SECRET}`), null, 2);
    const offsets = (re: RegExp) => [...good.matchAll(re)].map((m) => m.index);
    const newlines = offsets(/\n/g);
    const names = offsets(/"[a-z_]+":/g);
    const closes = offsets(/[}\]]/g);
    /** "line L, column C" of offset `at`, counted here apart from the code under test. */
    const where = (text: string, at: number) =>
      `line ${text.slice(0, at).split('\n').length}, column ${at - text.lastIndexOf('\n', at - 1)}`;
    const edit = fc.oneof(
      // A comment on a line of its own: the parser meets it at its first character.
      fc
        .tuple(fc.nat(), fc.constantFrom('// ', '# '), fc.constantFrom('note', 'the port'))
        .map(([k, mark, words]) => {
          const at = newlines[k % newlines.length] + 1;
          const text = `${good.slice(0, at)}  ${mark}${words}\n${good.slice(at)}`;
          return { text, at: at + 2, reason: /JSON has no comments/ };
        }),
      // A property name opened with a single quote.
      fc.nat().map((k) => {
        const at = names[k % names.length];
        return { text: `${good.slice(0, at)}'${good.slice(at + 1)}`, at, reason: /\(use double quotes\)/ };
      }),
      // A comma after the last value of an object or an array: located at the closing bracket.
      fc.nat().map((k) => {
        const close = closes[k % closes.length];
        const last = good.slice(0, close).trimEnd().length;
        return {
          text: `${good.slice(0, last)},${good.slice(last)}`,
          at: close + 1,
          reason: /trailing comma/,
        };
      }),
    );
    fc.assert(
      fc.property(edit, ({ text, at, reason }) => {
        writeFileSync(path, text);
        const err = configError(() => loadConfigFile(path));
        assert.equal(err.field, '(file)');
        assert.ok(
          err.message.includes(`at ${where(text, at)}: `),
          `${err.message} (expected ${where(text, at)})`,
        );
        assert.match(err.message, reason);
        assert.ok(!err.message.includes(SECRET), 'the message quotes the password');
      }),
      { numRuns: 300 },
    );
  });

  test('any text gives a config or a ConfigError', () => {
    const path = join(dir, 'fuzz.json');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.json().map((j) => j.slice(0, -1)),
        ),
        (text) => {
          writeFileSync(path, text);
          try {
            loadConfigFile(path);
          } catch (e) {
            assert.ok(e instanceof ConfigError, String(e));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
