/**
 * bench/discovery's results: their shape (DESIGN.md's `discovery` contract), issue 10's targets as ratios
 * within the one run, and the printed tables.
 */
import type { ColdSync } from './discovery-cold-sync.js';
import type { Cpu } from './discovery-cpu.js';
import type { Convergence, EldWindow, Latency } from './discovery-observe.js';
import type { Variant } from './discovery-observers.js';
import type { Rss } from './discovery-rss.js';
import type { Mass, Sync } from './discovery-sync.js';

export type Storm = EldWindow &
  Cpu & {
    peers: number;
    floor_eld_p99_ms: number;
    floor_eld_max_ms: number;
  };
export type Results = Record<
  Variant,
  Convergence & {
    cold?: Convergence;
    storm: Storm;
    storm_cold?: Storm;
    sync5k?: Sync;
    /** The same sync in a process forked for the client alone (discovery-cold-sync.ts). */
    sync5k_cold?: ColdSync;
    mass?: Mass;
    rss?: Rss;
  }
>;

export interface Target {
  target: string;
  zkbio: number;
  limit: number;
  /** zkbio's figure over the limit: met when at most 1. */
  ratio: number;
  met: boolean;
}

const r2 = (x: number): number => Number(x.toFixed(2));

function target(name: string, zkbio: number, limit: number): Target {
  const ratio = limit > 0 ? r2(zkbio / limit) : Number.POSITIVE_INFINITY;
  return { target: name, zkbio: r2(zkbio), limit: r2(limit), ratio, met: zkbio <= limit };
}

/** Issue 10's targets that this run's variants allow checking. */
export function targets(results: Partial<Results>): Target[] {
  const z = results.zkbio;
  if (!z) return [];
  const { mainThreadClient: m, native: n } = results;
  const out: Target[] = [
    target('storm ELD p99 <= 1.3 x floor', z.storm.eld_p99_ms, 1.3 * z.storm.floor_eld_p99_ms),
  ];
  if (n) out.push(target('storm ELD p99 <= 1/2 native', z.storm.eld_p99_ms, n.storm.eld_p99_ms / 2));
  if (m)
    out.push(target('storm ELD p99 <= 1/5 mainThreadClient', z.storm.eld_p99_ms, m.storm.eld_p99_ms / 5));
  if (n) {
    out.push(target('storm CPU (all) <= native', z.storm.cpu_ms, n.storm.cpu_ms));
    if (z.storm.cpu_main_ms !== undefined)
      out.push(target('storm CPU (main thread) <= 1/2 native', z.storm.cpu_main_ms, n.storm.cpu_ms / 2));
  }
  const others = [m, n].filter((x) => x !== undefined);
  if (others.length > 0) {
    for (const op of ['join', 'change', 'leave'] as const) {
      for (const p of ['p50_ms', 'p99_ms'] as const) {
        const best = Math.min(...others.map((o) => o[op][p]));
        out.push(target(`${op} ${p.slice(0, 3)} <= best other client`, z[op][p], best));
      }
    }
  }
  if (z.sync5k) {
    const syncs = others.flatMap((o) => (o.sync5k ? [o.sync5k.sync_ms] : []));
    if (syncs.length > 0)
      out.push(target('sync5k time <= fastest other client', z.sync5k.sync_ms, Math.min(...syncs)));
    const colds = others.flatMap((o) => (o.sync5k_cold ? [o.sync5k_cold.sync_ms] : []));
    if (z.sync5k_cold && colds.length > 0)
      out.push(
        target('sync5k, fresh processes: <= fastest other', z.sync5k_cold.sync_ms, Math.min(...colds)),
      );
    if (z.sync5k.peers === 5000)
      out.push(target('sync5k time <= 2,000 ms (a guide)', z.sync5k.sync_ms, 2000));
    out.push(target('sync5k ELD p99 <= 1.3 x floor', z.sync5k.eld_p99_ms, 1.3 * z.sync5k.floor_eld_p99_ms));
  }
  if (z.rss?.peers === 5000) {
    out.push(target('1-worker node RSS, 5,000 peers <= 150 MB', z.rss.rss_mb, 150));
    out.push(target('the same, idle (after V8 memory reducer) <= 150 MB', z.rss.rss_idle_mb, 150));
  }
  return out;
}

function grid(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)];
}

export function table(header: string, results: Partial<Results>, notes: string[]): string {
  const entries = Object.entries(results) as [Variant, Results[Variant]][];
  const lat = (x: Latency) => `${x.p50_ms} / ${x.p99_ms} (n ${x.n})`;
  const opt = (x: number | undefined) => (x === undefined ? '-' : String(x));
  const cpu = (s: Storm) => `${s.cpu_ms} / ${opt(s.cpu_main_ms)} / ${opt(s.cpu_bio_ms)}`;
  const lines = [header, ''];
  lines.push(
    ...grid(
      [
        'client',
        'join p50/p99 ms',
        'change p50/p99 ms',
        'leave p50/p99 ms',
        'storm ELD p99/max',
        'floor p99/max',
        'CPU all/main/bio ms',
        'cold storm: ELD p99, CPU all/main/bio',
      ],
      entries.map(([v, r]) => [
        v,
        lat(r.join),
        lat(r.change),
        lat(r.leave),
        `${r.storm.eld_p99_ms} / ${r.storm.eld_max_ms}`,
        `${r.storm.floor_eld_p99_ms} / ${r.storm.floor_eld_max_ms}`,
        cpu(r.storm),
        r.storm_cold ? `${r.storm_cold.eld_p99_ms}, ${cpu(r.storm_cold)}` : '-',
      ]),
    ),
  );
  const colds = entries.filter(([, r]) => r.cold);
  if (colds.length > 0) {
    lines.push('', 'cold round (a fresh observer, no storm before it):');
    lines.push(
      ...grid(
        ['client', 'join p50/p99 ms', 'change p50/p99 ms', 'leave p50/p99 ms'],
        colds.map(([v, r]) => {
          const c = r.cold as Convergence;
          return [v, lat(c.join), lat(c.change), lat(c.leave)];
        }),
      ),
    );
  }
  const synced = entries.filter(([, r]) => r.sync5k && r.mass);
  if (synced.length > 0) {
    lines.push('');
    lines.push(
      ...grid(
        [
          'client',
          'sync ms (peers)',
          'sync ELD p99 / floor',
          'sync CPU ms',
          'fresh process: sync / CPU ms',
          'half leave ms',
          'quarter rejoin ms',
          'mass ELD p99 / floor',
        ],
        synced.map(([v, r]) => {
          const s = r.sync5k as Sync;
          const m = r.mass as Mass;
          return [
            v,
            `${s.sync_ms} (${s.peers})`,
            `${s.eld_p99_ms} / ${s.floor_eld_p99_ms}`,
            String(s.cpu_ms),
            r.sync5k_cold ? `${r.sync5k_cold.sync_ms} / ${r.sync5k_cold.cpu_ms}` : '-',
            `${m.leave_ms} (${m.left})`,
            `${m.rejoin_ms} (${m.rejoined})`,
            `${m.eld_p99_ms} / ${m.floor_eld_p99_ms}`,
          ];
        }),
      ),
    );
  }
  const rss = results.zkbio?.rss;
  if (rss) {
    lines.push(
      '',
      `zkbio node, 1 worker, ${rss.peers} peers (synced in ${rss.synced_ms} ms): RSS ${rss.rss_mb} MB settled ` +
        `(primary ${rss.rss_primary_mb}, workers ${rss.rss_workers_mb.join(', ')}; ${rss.rss_synced_mb} just synced), ` +
        `private ${rss.private_mb} MB, PSS ${rss.pss_mb} MB; idle ${rss.rss_idle_mb} MB (primary ` +
        `${rss.rss_idle_primary_mb}, workers ${rss.rss_idle_workers_mb.join(', ')})`,
    );
    if (rss.empty)
      lines.push(
        `the same node with no peers: RSS ${rss.empty.rss_mb} MB (primary ${rss.empty.rss_primary_mb}, workers ` +
          `${rss.empty.rss_workers_mb.join(', ')}), private ${rss.empty.private_mb} MB; ` +
          `idle ${rss.empty.rss_idle_mb} MB; so ${r2(rss.rss_mb - rss.empty.rss_mb)} MB for ${rss.peers} peers ` +
          `settled, ${r2(rss.rss_idle_mb - rss.empty.rss_idle_mb)} MB idle`,
      );
  }
  const t = targets(results);
  if (t.length > 0) {
    lines.push('', 'issue 10 targets (zkbio against the limit from the same run; ratio <= 1 is met):');
    lines.push(
      ...grid(
        ['target', 'zkbio', 'limit', 'ratio', ''],
        t.map((x) => [x.target, String(x.zkbio), String(x.limit), String(x.ratio), x.met ? 'met' : 'MISSED']),
      ),
    );
  }
  for (const n of notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
