// Real ZooKeeper servers on loopback for tests, the demo and users: Debian's zookeeper package, one JVM per
// server, each with its own temp data dir and free ports. `ZK_SERVERS` points at an existing ensemble instead.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectString as parseConnectString } from '../discovery/config_zk.js';

/** Where Debian's packages put their jars; ZKBIO_JAVA_DIR points elsewhere (another layout, or a test). */
function javaDir(): string {
  return process.env.ZKBIO_JAVA_DIR || '/usr/share/java';
}

function zookeeperJar(): string {
  return join(javaDir(), 'zookeeper.jar');
}

/**
 * The JVM's classpath, resolved each time a server starts. Resolved once at module load, on a fresh machine it
 * missed log4j-1.2.jar, which installing ZooKeeper brings, but kept slf4j's log4j binding, which was there
 * before: the JVM died of ClassNotFoundException org.apache.log4j.LogManager.
 *
 * zookeeper.jar's manifest Class-Path names its dependencies, but no slf4j binding: without these two jars the
 * server logs nowhere, and the binding alone kills it, so they go in together or not at all. jline (also in
 * the manifest) is missing on Debian and only the CLI shell needs it.
 */
export function serverClasspath(): string {
  const logJars = ['slf4j-log4j12.jar', 'log4j-1.2.jar'].map((j) => join(javaDir(), j));
  return [
    '/etc/zookeeper/conf',
    zookeeperJar(),
    ...(logJars.every((j) => existsSync(j)) ? logJars : []),
  ].join(':');
}

export interface StartZkOptions {
  /** 1: a standalone server; 3: an ensemble. */
  servers?: 1 | 3;
  tickTime?: number;
  /** Parent for the temp dir; default os.tmpdir(). */
  baseDir?: string;
  /** Bound for each wait until the servers serve (Java starts in about 0.5-1.5 s here). */
  startTimeoutMs?: number;
  /** Start local servers even when ZK_SERVERS is set: for tests that kill, freeze or restart servers. */
  local?: boolean;
  heapMb?: number;
  /** Client port of server 1 (an ensemble's servers take the ports after it); free ports by default. */
  clientPort?: number;
}

export interface ZkServer {
  readonly id: number;
  readonly clientPort: number;
  readonly dataDir: string;
  /** The JVM's pid while it runs. */
  readonly pid: number | undefined;
  readonly isRunning: boolean;
  /** Sends a signal. SIGSTOP/SIGCONT return at once; other signals resolve when the JVM has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after a short bound. Keeps the data dir, so start() resumes the same data. */
  stop(): Promise<void>;
  /** Starts the JVM again with the same config, data dir and ports, and waits until it serves. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** `srvr` output's Mode: standalone, leader or follower; undefined when it does not serve. */
  mode(): Promise<string | undefined>;
}

export interface ZkHandle {
  /** host:port,... for node-zookeeper-client. */
  readonly connectString: string;
  /** Empty for an external ensemble (ZK_SERVERS): there is no process to control. */
  readonly servers: readonly ZkServer[];
  readonly external: boolean;
  /** The server with the given id (1-based); throws for an external ensemble. */
  server(id: number): ZkServer;
  /** The id of the leader (or of the standalone server), undefined while none serves. */
  leaderId(): Promise<number | undefined>;
  /** Waits until every running server serves (and, for an ensemble, a leader exists). */
  waitServing(timeoutMs?: number): Promise<void>;
  /** Kills every server and removes the temp dir. */
  stop(): Promise<void>;
}

/** Installs Debian's zookeeper package when its jar is missing; needs root, otherwise says what to run. */
function ensureZookeeperInstalled(): void {
  const haveJava = spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
  const jar = zookeeperJar();
  if (existsSync(jar) && haveJava) return;
  const pkgs = ['zookeeper', ...(haveJava ? [] : ['default-jre-headless'])];
  const command = `apt-get update && apt-get install -y ${pkgs.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`ZooKeeper is not installed (${jar} or java missing). As root, run: ${command}`);
  }
  for (const args of [['update'], ['install', '-y', ...pkgs]]) {
    const r = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0)
      throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status}); run: ${command}`);
  }
  if (!existsSync(jar)) throw new Error(`${jar} is still missing after installing zookeeper`);
}

/** Sends a four-letter word and returns the reply; rejects on a socket error or after timeoutMs. */
export function fourLetterWord(
  port: number,
  word: string,
  timeoutMs = 1000,
  host = '127.0.0.1',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let out = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${word} to ${host}:${port} timed out`)));
    socket.on('data', (d) => {
      out += d.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('close', (hadError) => {
      if (!hadError) resolve(out);
    });
    socket.connect(port, host, () => socket.end(word));
  });
}

/** Mode from `srvr`, or undefined while the server runs but does not serve (or does not answer). */
async function serverMode(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  try {
    const reply = await fourLetterWord(port, 'srvr', 1000, host);
    return /^Mode: (\S+)/m.exec(reply)?.[1];
  } catch {
    return undefined;
  }
}

/** Free loopback ports, all held open together so that one call never returns the same port twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Throws naming the port when a client port asked for is taken: the JVM would only log it and die. */
async function assertFree(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(`zookeeper: cannot use client port ${port} on 127.0.0.1 (${err.code ?? err.message})`),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Every JVM this process started and has not reaped, so that an exit or a signal never leaves one behind.
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllNow();
      // Someone else (`zkbio zk start`) handles the signal: let them finish. Otherwise die of it as we would have.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function log4jConfig(logFile: string): string {
  return [
    'log4j.rootLogger=INFO, FILE',
    'log4j.appender.FILE=org.apache.log4j.FileAppender',
    `log4j.appender.FILE.File=${logFile}`,
    'log4j.appender.FILE.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n',
    '',
  ].join('\n');
}

interface ServerSpec {
  id: number;
  clientPort: number;
  dir: string;
  cfgPath: string;
  mainClass: string;
  heapMb: number;
  startTimeoutMs: number;
}

class LocalZkServer implements ZkServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly spec: ServerSpec) {}

  get id() {
    return this.spec.id;
  }
  get clientPort() {
    return this.spec.clientPort;
  }
  get dataDir() {
    return join(this.spec.dir, 'data');
  }
  get pid() {
    return this.child?.pid;
  }
  get isRunning() {
    return this.child !== undefined;
  }

  /** Spawns the JVM; does not wait for it to serve (an ensemble member serves only once a quorum runs). */
  spawn(): void {
    if (this.child) throw new Error(`zookeeper server ${this.id} is already running (pid ${this.pid})`);
    const { dir, cfgPath, mainClass, heapMb } = this.spec;
    // stdout and stderr go to a file: the JVM is chatty, and its output matters only when it fails to start.
    const out = openSync(join(dir, 'java.out'), 'a');
    const child = spawn(
      'java',
      [
        `-Xmx${heapMb}m`,
        '-XX:+UseSerialGC',
        // C1 only: the JVM reaches serving sooner, and these servers never run long enough to need C2.
        '-XX:TieredStopAtLevel=1',
        '-Djava.net.preferIPv4Stack=true',
        '-Dzookeeper.jmx.log4j.disable=true',
        `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
        '-cp',
        serverClasspath(),
        mainClass,
        cfgPath,
      ],
      { stdio: ['ignore', out, out], detached: false },
    );
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        live.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
  }

  async waitServing(timeoutMs = this.spec.startTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.child)
        throw new Error(`zookeeper server ${this.id} exited while starting:\n${this.outputTail()}`);
      if ((await this.mode()) !== undefined) return;
      await sleep(100);
    }
    throw new Error(
      `zookeeper server ${this.id} did not serve within ${timeoutMs} ms:\n${this.outputTail()}`,
    );
  }

  mode(): Promise<string | undefined> {
    return this.child ? serverMode(this.clientPort) : Promise.resolve(undefined);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') return;
    await this.exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    // A frozen JVM ignores SIGTERM until it is thawed.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }

  async start(): Promise<void> {
    this.spawn();
    await this.waitServing();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  outputTail(): string {
    const read = (f: string) =>
      existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '';
    return `--- java.out ---\n${read(join(this.spec.dir, 'java.out'))}\n--- zookeeper.log ---\n${read(join(this.spec.dir, 'zookeeper.log'))}`;
  }
}

function externalHandle(connectString: string): ZkHandle {
  const noControl = () => {
    throw new Error(
      `ZK_SERVERS=${connectString} points at an external ensemble, which this process cannot control; ` +
        'tests that kill or restart servers pass { local: true }',
    );
  };
  const { hosts } = parseConnectString(connectString, 'ZK_SERVERS');
  return {
    connectString,
    servers: [],
    external: true,
    server: noControl,
    async leaderId() {
      for (const [i, h] of hosts.entries()) {
        const mode = await serverMode(h.port, h.host);
        if (mode === 'leader' || mode === 'standalone') return i + 1;
      }
      return undefined;
    },
    async waitServing(timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if ((await this.leaderId()) !== undefined) return;
        await sleep(200);
      }
      throw new Error(`ZK_SERVERS=${connectString} has no serving leader after ${timeoutMs} ms`);
    },
    async stop() {},
  };
}

/** Starts ZooKeeper on loopback and waits until it serves; or, with ZK_SERVERS set, uses that ensemble. */
export async function startZk(options: StartZkOptions = {}): Promise<ZkHandle> {
  const external = process.env.ZK_SERVERS;
  if (external && !options.local) {
    const handle = externalHandle(external);
    await handle.waitServing(options.startTimeoutMs);
    return handle;
  }
  ensureZookeeperInstalled();
  installExitHooks();

  const count = options.servers ?? 1;
  const tickTime = options.tickTime ?? 500;
  const ports = await freePorts(count * 3);
  if (options.clientPort !== undefined) {
    for (let i = 0; i < count; i++) {
      ports[i] = options.clientPort + i;
      await assertFree(ports[i]);
    }
  }
  const root = mkdtempSync(join(options.baseDir ?? tmpdir(), 'zkbio-zk-'));
  tempDirs.add(root);

  const quorum = Array.from(
    { length: count },
    (_, i) => `server.${i + 1}=127.0.0.1:${ports[count + 2 * i]}:${ports[count + 2 * i + 1]}`,
  );
  const servers = Array.from({ length: count }, (_, i) => {
    const id = i + 1;
    const dir = join(root, `server${id}`);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const cfg = [
      `tickTime=${tickTime}`,
      'initLimit=10',
      'syncLimit=5',
      `dataDir=${dataDir}`,
      `clientPort=${ports[i]}`,
      'clientPortAddress=127.0.0.1',
      'forceSync=no',
      'admin.enableServer=false',
      '4lw.commands.whitelist=*',
      // The default allows 60 connections from one address; tests with many peers on loopback exceed it.
      'maxClientCnxns=0',
      ...(count > 1 ? quorum : []),
      '',
    ];
    const cfgPath = join(dir, 'zoo.cfg');
    writeFileSync(cfgPath, cfg.join('\n'));
    writeFileSync(join(dir, 'log4j.properties'), log4jConfig(join(dir, 'zookeeper.log')));
    if (count > 1) writeFileSync(join(dataDir, 'myid'), `${id}\n`);
    return new LocalZkServer({
      id,
      clientPort: ports[i],
      dir,
      cfgPath,
      mainClass:
        count > 1
          ? 'org.apache.zookeeper.server.quorum.QuorumPeerMain'
          : 'org.apache.zookeeper.server.ZooKeeperServerMain',
      heapMb: options.heapMb ?? 256,
      startTimeoutMs: options.startTimeoutMs ?? 30000,
    });
  });

  const handle: ZkHandle = {
    connectString: servers.map((s) => `127.0.0.1:${s.clientPort}`).join(','),
    servers,
    external: false,
    server(id) {
      const s = servers[id - 1];
      if (!s) throw new Error(`no zookeeper server ${id} (have 1..${servers.length})`);
      return s;
    },
    async leaderId() {
      for (const s of servers) {
        const mode = await s.mode();
        if (mode === 'leader' || mode === 'standalone') return s.id;
      }
      return undefined;
    },
    async waitServing(timeoutMs = options.startTimeoutMs ?? 30000) {
      const deadline = Date.now() + timeoutMs;
      await Promise.all(servers.filter((s) => s.isRunning).map((s) => s.waitServing(timeoutMs)));
      // An ensemble member answers srvr with a mode only once it has a leader, but right after the leader
      // dies its followers still answer with their old mode for a moment: wait until one of them leads.
      while ((await this.leaderId()) === undefined) {
        if (Date.now() > deadline)
          throw new Error(`zookeeper: servers serve but none leads after ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all(servers.map((s) => s.kill('SIGKILL')));
      rmSync(root, { recursive: true, force: true });
      tempDirs.delete(root);
    },
  };

  try {
    for (const s of servers) s.spawn();
    await handle.waitServing();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
