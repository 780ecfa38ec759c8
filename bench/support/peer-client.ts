// An independent ZooKeeper client for tests and benches: plain node-zookeeper-client, promisified, playing
// peers and reading ZooKeeper's truth without any zkbio code in between.
import zookeeper, { type ACL, type Client, CreateMode, type Stat } from 'node-zookeeper-client';

export interface PeerClient {
  client: Client;
  create(path: string, data: string, mode?: number, acl?: ACL[]): Promise<string>;
  mkdirp(path: string): Promise<void>;
  set(path: string, data: string): Promise<Stat>;
  remove(path: string): Promise<void>;
  children(path: string): Promise<string[]>;
  get(path: string): Promise<{ data: string; stat: Stat }>;
  exists(path: string): Promise<Stat | null>;
  close(): void;
}

const OPEN_ACL = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('world', 'anyone'))];

export function connectPeer(
  connectString: string,
  opts: { auth?: string; sessionTimeout?: number } = {},
): Promise<PeerClient> {
  const client = zookeeper.createClient(connectString, {
    sessionTimeout: opts.sessionTimeout ?? 4000,
    retries: 2,
  });
  if (opts.auth) client.addAuthInfo('digest', Buffer.from(opts.auth));
  const peer: PeerClient = {
    client,
    create: (path, data, mode = CreateMode.EPHEMERAL_SEQUENTIAL, acl) =>
      new Promise((res, rej) =>
        client.create(path, Buffer.from(data), acl ?? OPEN_ACL, mode, (e, p) => (e ? rej(e) : res(p))),
      ),
    mkdirp: (path) => new Promise((res, rej) => client.mkdirp(path, (e) => (e ? rej(e) : res()))),
    set: (path, data) =>
      new Promise((res, rej) =>
        client.setData(path, Buffer.from(data), -1, (e, stat) => (e ? rej(e) : res(stat))),
      ),
    remove: (path) => new Promise((res, rej) => client.remove(path, -1, (e) => (e ? rej(e) : res()))),
    children: (path) =>
      new Promise((res, rej) => client.getChildren(path, (e, names) => (e ? rej(e) : res(names)))),
    get: (path) =>
      new Promise((res, rej) =>
        client.getData(path, (e, data, stat) =>
          e ? rej(e) : res({ data: data ? data.toString('utf8') : '', stat }),
        ),
      ),
    exists: (path) =>
      new Promise((res, rej) => client.exists(path, (e, stat) => (e ? rej(e) : res(stat ?? null)))),
    close: () => client.close(),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`peer client could not connect to ${connectString}`));
    }, 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(peer);
    });
    client.connect();
  });
}

/** kimserver's node JSON for a peer. */
export function peerJson(path: string, type: string, port: number, workers = 2): string {
  return JSON.stringify({
    path,
    type,
    host: '127.0.0.1',
    port: String(port),
    worker_cnt: workers,
    active_time: Date.now() / 1000,
  });
}
