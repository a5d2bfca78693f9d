import type { StatusSnapshot } from '../protocol/status.js';

/** 45s, 3m 12s, 2h 5m, 3d 4h: the two largest units, like ps and pm2. */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const units: Array<[string, number]> = [
    ['d', Math.floor(s / 86400)],
    ['h', Math.floor(s / 3600) % 24],
    ['m', Math.floor(s / 60) % 60],
    ['s', s % 60],
  ];
  const first = units.findIndex(([, n]) => n > 0);
  if (first === -1) return '0s';
  return units
    .slice(first, first + 2)
    .filter(([, n]) => n > 0)
    .map(([u, n]) => `${n}${u}`)
    .join(' ');
}

/** MiB with one decimal; '-' before a worker's first heartbeat. */
export const mib = (bytes: number): string => (bytes > 0 ? (bytes / 1048576).toFixed(1) : '-');

/** Event-loop delay in ms, to the tenth; '-' when there is no figure yet. */
export const lagMs = (ms: number | undefined): string => (ms === undefined ? '-' : ms.toFixed(1));
/** Event-loop utilisation as a whole percentage. */
export const percent = (u: number | undefined): string => (u === undefined ? '-' : String(Math.round(u * 100)));

/** Columns padded to their widest cell; numeric columns (`right`) aligned right. */
export function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** One row per generation: which settings its workers run (an older master sends none: no table). */
function generationTable(s: StatusSnapshot): string[] {
  if (!s.generations?.length) return [];
  const rows = s.generations.map((g) => [
    String(g.generation),
    g.role,
    String(g.workers),
    g.digest,
    g.configPath ?? '-',
    g.app,
    g.createdAt,
  ]);
  const header = ['GEN', 'ROLE', 'WORKERS', 'SETTINGS', 'CONFIG', 'APP', 'CREATED'];
  return [...table(header, rows, [true, false, true, false, false, false, false]), ''];
}

/** The text `tsgund status` prints: the master on one row, then one row per worker. */
export function formatStatus(s: StatusSnapshot): string {
  const serving = s.workers.filter((w) => w.state === 'ready').length;
  const master = table(
    ['MASTER', 'NAME', 'APP', 'GEN', 'STATE', 'UPTIME', 'RSS MiB', 'WORKERS', 'RESTARTS', 'LAG p99 ms'],
    [
      [
        String(s.pid),
        s.name,
        s.app,
        String(s.generation),
        s.state,
        formatUptime(s.uptimeMs),
        mib(s.rss),
        `${serving}/${s.targetWorkers}`,
        String(s.restarts),
        lagMs(s.loop?.delayP99),
      ],
    ],
    [false, false, false, true, false, true, true, true, true, true],
  );
  const workers = [...s.workers].sort((a, b) => a.generation - b.generation || a.id - b.id);
  const lines = [
    ...master,
    `listening on ${s.listeners.length ? s.listeners.join(', ') : '(nothing)'}`,
    '',
    ...generationTable(s),
    ...(workers.length
      ? table(
          ['WORKER', 'GEN', 'STATE', 'UPTIME', 'REQUESTS', 'ACCEPTED', 'RSS MiB', 'HEAP MiB', 'LAG p99 ms', 'ELU %'],
          workers.map((w) => [
            String(w.pid),
            String(w.generation),
            w.state,
            formatUptime(w.uptimeMs),
            String(w.requests),
            String(w.accepted),
            mib(w.rss),
            mib(w.runtime?.heapUsed ?? 0),
            lagMs(w.runtime?.delayP99),
            percent(w.runtime?.utilization),
          ]),
          [false, true, false, true, true, true, true, true, true, true],
        )
      : ['no workers']),
  ];
  return lines.join('\n') + '\n';
}

/** One master as `tsgund ls` shows it, under the name it is registered as. */
export interface ListedMaster {
  name: string;
  status: StatusSnapshot;
}

/** The text `tsgund ls` prints: one row per master (as `pm2 ls`). */
export function formatList(masters: ListedMaster[]): string {
  if (!masters.length) return 'no tsgund master is running\n';
  const rows = masters.map(({ name, status: s }) => {
    const ready = s.workers.filter((w) => w.state === 'ready').length;
    const rss = s.rss + s.workers.reduce((sum, w) => sum + w.rss, 0);
    const requests = s.workers.reduce((sum, w) => sum + w.requests, 0);
    return [
      name,
      String(s.pid),
      String(s.generation),
      s.state,
      `${ready}/${s.targetWorkers}`,
      formatUptime(s.uptimeMs),
      String(requests),
      mib(rss),
      s.app,
    ];
  });
  const header = ['NAME', 'PID', 'GEN', 'STATE', 'WORKERS', 'UPTIME', 'REQUESTS', 'MEM MiB', 'APP'];
  return table(header, rows, [false, true, true, false, true, true, true, true, false]).join('\n') + '\n';
}
