/**
 * `npm run demo`: a small cluster on this machine, converging live.
 *
 * - ZooKeeper: ZK_SERVERS if set, else Debian's package on loopback (installed when missing, as root).
 * - A gate server (examples/gate-server.ts) with 2 worker processes routes users to logic servers.
 * - Logic servers (examples/logic-server.ts) join; one more joins; a kimserver-style C++ peer (played here
 *   with a plain ZooKeeper client: kimserver's JSON, port as a string) joins and changes its data; one logic
 *   server is killed with SIGKILL and one leaves gracefully.
 * - After each step it shows which users moved, and checks consistent hashing: keys only move onto a node
 *   that joined, or off a node that left. It prints a summary, exits 0 and leaves nothing running.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import zookeeper from 'node-zookeeper-client';
import { freePorts, startZk } from '../src/cli/zk_server.js';

const USERS = Array.from({ length: 24 }, (_, i) => String(1000 + i));
const children: ChildProcess[] = [];
const checks: string[] = [];
const failures: string[] = [];
const t0 = Date.now();

function say(line: string): void {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);
}

interface TableReply {
  version: number;
  logic: string[];
}
interface UserReply {
  answer: { logic: string };
}

function getJson<T>(port: number, path: string): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (res) => {
      let text = '';
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function start(script: string, args: string[]): ChildProcess {
  const child = fork(new URL(script, import.meta.url), args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return child;
}

async function startLogic(zk: string, name: string): Promise<{ port: number; proc: ChildProcess }> {
  const [port] = await freePorts(1);
  const proc = start('./logic-server.js', ['--zk', zk, '--port', String(port), '--name', name]);
  await once(proc, 'message');
  return { port, proc };
}

/** user → "host:port" of the logic server that answered, through the gate. */
async function routes(gatePort: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const user of USERS) {
    const r = await getJson<UserReply>(gatePort, `/user/${user}`);
    out.set(user, r.status === 200 ? r.body.answer.logic : `(${r.status})`);
  }
  return out;
}

async function tableIs(gatePort: number, logic: string[]): Promise<boolean> {
  // Ask several times: each fresh connection may land on another gate worker, and all must agree.
  for (let i = 0; i < 4; i++) {
    const seen = (await getJson<TableReply>(gatePort, '/table')).body.logic;
    if (seen.slice().sort().join() !== logic.slice().sort().join()) return false;
  }
  return true;
}

function showMoves(
  step: string,
  before: Map<string, string>,
  after: Map<string, string>,
  allowed: (from: string, to: string) => boolean,
) {
  const moved = USERS.filter((u) => before.get(u) !== after.get(u));
  for (const u of moved) say(`    user ${u}: ${before.get(u)} → ${after.get(u)}`);
  const bad = moved.filter((u) => !allowed(before.get(u) as string, after.get(u) as string));
  const line = `${step}: ${moved.length} of ${USERS.length} users moved${bad.length ? `, ${bad.length} of them wrongly` : ', all as consistent hashing says'}`;
  say(line);
  (bad.length ? failures : checks).push(line);
}

async function main(): Promise<void> {
  say("starting ZooKeeper (ZK_SERVERS, or Debian's package on loopback)");
  const zk = await startZk();
  try {
    say(`ZooKeeper serving at ${zk.connectString}`);
    const a = await startLogic(zk.connectString, 'logic-a');
    const b = await startLogic(zk.connectString, 'logic-b');
    const c = await startLogic(zk.connectString, 'logic-c');
    const addr = (p: number) => `127.0.0.1:${p}`;
    say(`3 logic servers registered: ${[a, b, c].map((s) => addr(s.port)).join(', ')}`);

    const [gatePort] = await freePorts(1);
    start('./gate-server.js', ['--zk', zk.connectString, '--port', String(gatePort), '--workers', '2']);
    await until('the gate to see 3 logic servers', () =>
      tableIs(
        gatePort,
        [a, b, c].map((s) => addr(s.port)),
      ),
    );
    say(`gate with 2 worker processes on 127.0.0.1:${gatePort}; both replicas hold the 3 logic servers`);
    let before = await routes(gatePort);
    const counts = (m: Map<string, string>) =>
      [...new Set(m.values())].map((s) => `${s}×${[...m.values()].filter((v) => v === s).length}`).join('  ');
    say(`routing ${USERS.length} users: ${counts(before)}`);

    const d = await startLogic(zk.connectString, 'logic-d');
    await until('logic-d in the gate', () =>
      tableIs(
        gatePort,
        [a, b, c, d].map((s) => addr(s.port)),
      ),
    );
    let after = await routes(gatePort);
    showMoves(`join ${addr(d.port)}`, before, after, (_, to) => to === addr(d.port));
    before = after;

    // A kimserver C++ peer, played with a plain ZooKeeper client: kimserver's JSON, port as a string.
    const [kimPort] = await freePorts(1);
    const kimHttp = createServer((req, res) => {
      res.end(JSON.stringify({ user: req.url?.split('/').pop(), logic: addr(kimPort) }));
    }).listen(kimPort, '127.0.0.1');
    const kim = zookeeper.createClient(zk.connectString);
    kim.connect();
    await once(kim, 'connected');
    const kimData = (workers: number) =>
      Buffer.from(
        JSON.stringify({
          path: '',
          type: 'logic',
          host: '127.0.0.1',
          port: String(kimPort),
          worker_cnt: workers,
          active_time: Date.now() / 1000,
        }),
      );
    const kimPath = await new Promise<string>((resolve, reject) =>
      kim.create(
        '/kimserver/nodes/logic/kimserver-logic',
        kimData(1),
        zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    const five = [a, b, c, d].map((s) => addr(s.port)).concat(addr(kimPort));
    await until('the kimserver peer in the gate', () => tableIs(gatePort, five));
    after = await routes(gatePort);
    showMoves(
      `join kimserver-style peer ${addr(kimPort)} (${kimPath})`,
      before,
      after,
      (_, to) => to === addr(kimPort),
    );
    before = after;

    const version = (await getJson<TableReply>(gatePort, '/table')).body.version;
    await new Promise<void>((resolve, reject) =>
      kim.setData(kimPath, kimData(4), -1, (e) => (e ? reject(e) : resolve())),
    );
    say('kimserver-style peer changed its data: worker_cnt 1 → 4 (4 ring members now)');
    await until('the change in both gate workers', async () => {
      for (let i = 0; i < 4; i++)
        if ((await getJson<TableReply>(gatePort, '/table')).body.version <= version) return false;
      return true;
    });
    after = await routes(gatePort);
    showMoves(
      'change worker_cnt of the kimserver-style peer',
      before,
      after,
      (_, to) => to === addr(kimPort),
    );
    before = after;

    const killedAt = Date.now();
    b.proc.kill('SIGKILL');
    say(`killed ${addr(b.port)} with SIGKILL: its session expires after the 2 s session timeout`);
    const four = five.filter((s) => s !== addr(b.port));
    await until('the killed server to leave the gate', () => tableIs(gatePort, four));
    say(`gone from both gate workers after ${Date.now() - killedAt} ms`);
    after = await routes(gatePort);
    showMoves(`kill ${addr(b.port)}`, before, after, (from) => from === addr(b.port));
    before = after;

    const leftAt = Date.now();
    a.proc.kill('SIGTERM');
    await once(a.proc, 'exit');
    const three = four.filter((s) => s !== addr(a.port));
    await until('the stopped server to leave the gate', () => tableIs(gatePort, three));
    say(`graceful stop of ${addr(a.port)}: gone from both gate workers after ${Date.now() - leftAt} ms`);
    after = await routes(gatePort);
    showMoves(`leave ${addr(a.port)}`, before, after, (from) => from === addr(a.port));
    say(`routing ${USERS.length} users: ${counts(after)}`);

    kim.close();
    kimHttp.close();
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)),
    );
    await zk.stop();
  }
  console.log('\nsummary');
  for (const line of checks) console.log(`  ok    ${line}`);
  for (const line of failures) console.log(`  FAIL  ${line}`);
  console.log(
    `  ${checks.length} passed, ${failures.length} failed, in ${((Date.now() - t0) / 1000).toFixed(1)} s; nothing left running`,
  );
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
});
