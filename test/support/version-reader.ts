// A watcher peer that reads every child of a folder the way kimserver does (children watch, then each child's
// data with a data watch, read again on every change), and keeps every read: what a peer could ever have seen.
import type { Client, Event } from 'node-zookeeper-client';
import zookeeper from 'node-zookeeper-client';

export interface VersionRead {
  path: string;
  version: number;
  data: string;
}

export class VersionReader {
  readonly reads: VersionRead[] = [];
  private readonly known = new Set<string>();
  private stopped = false;

  constructor(
    private readonly client: Client,
    private readonly folder: string,
  ) {}

  start(): void {
    this.list();
  }

  stop(): void {
    this.stopped = true;
  }

  /** The versions of `path` read so far. */
  versions(path: string): Set<number> {
    return new Set(this.reads.filter((r) => r.path === path).map((r) => r.version));
  }

  private list(): void {
    if (this.stopped) return;
    this.client.getChildren(
      this.folder,
      (e: Event) => {
        if (e.type === zookeeper.Event.NODE_CHILDREN_CHANGED) this.list();
      },
      (err, names) => {
        if (err) return;
        for (const name of names) {
          const path = `${this.folder}/${name}`;
          if (this.known.has(path)) continue;
          this.known.add(path);
          this.read(path);
        }
      },
    );
  }

  private read(path: string): void {
    if (this.stopped) return;
    this.client.getData(
      path,
      (e: Event) => {
        if (e.type === zookeeper.Event.NODE_DATA_CHANGED) this.read(path);
      },
      (err, data, stat) => {
        if (err) return;
        this.reads.push({ path, version: stat.version, data: data ? data.toString('utf8') : '' });
      },
    );
  }
}
