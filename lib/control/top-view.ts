// What `tsgund top` shows: one frame from two status snapshots (rates are
// the difference over the time between them). A pure function of its
// inputs, so it is tested without a terminal.

import { formatUptime, lagMs, percent } from './format.js';
import type { StatusSnapshot, WorkerStatus } from '../protocol/status.js';

/** One reading: the master's status, and each worker's CPU time (ms) from /proc, when it could be read. */
export interface TopSample {
  /** Monotonic ms. */
  at: number;
  status: StatusSnapshot;
  cpuMs: ReadonlyMap<number, number>;
}

const HEADER = [
  'PID',
  'GEN',
  'STATE',
  'REQ/S',
  'LAG p99',
  'LAG max',
  'ELU %',
  'CPU %',
  'RSS MiB',
  'HEAP MiB',
  'CONNS',
  'UPTIME',
];

const mib = (bytes: number | undefined): string => (bytes ? (bytes / 1048576).toFixed(1) : '-');

/** A count per second between two readings ('-' without an earlier one, or across a counter that went back). */
function rate(now: number | undefined, before: number | undefined, seconds: number): string {
  if (now === undefined || before === undefined || seconds <= 0 || now < before) return '-';
  return ((now - before) / seconds).toFixed(1);
}

function row(w: WorkerStatus, now: TopSample, prev: TopSample | null): string[] {
  const seconds = prev ? (now.at - prev.at) / 1000 : 0;
  const before = prev?.status.workers.find((p) => p.pid === w.pid);
  const cpu = rate(now.cpuMs.get(w.pid), prev?.cpuMs.get(w.pid), seconds);
  const r = w.runtime;
  return [
    String(w.pid),
    String(w.generation),
    w.state,
    rate(w.requests, before?.requests, seconds),
    lagMs(r?.delayP99),
    lagMs(r?.delayMax),
    percent(r?.utilization),
    // ms of CPU per second is a tenth of a percent
    cpu === '-' ? cpu : (Number(cpu) / 10).toFixed(1),
    mib(w.rss),
    mib(r?.heapUsed),
    r ? String(r.connections) : '-',
    formatUptime(w.uptimeMs),
  ];
}

function columns(rows: string[][]): string[] {
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // the text columns (pid, state) left, the figures right
  const left = (i: number) => i === 0 || i === 2;
  return [HEADER, ...rows].map((cells) =>
    cells
      .map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** The lines of one frame, each cut to `width` characters when given (a terminal's). */
export function topFrame(now: TopSample, prev: TopSample | null, width?: number): string[] {
  const s = now.status;
  const ready = s.workers.filter((w) => w.state === 'ready').length;
  const seconds = prev ? (now.at - prev.at) / 1000 : 0;
  const total = (x: TopSample) => x.status.workers.reduce((n, w) => n + w.requests, 0);
  const head = [
    `${s.name}  master ${s.pid}  ${s.state}  generation ${s.generation}  workers ${ready}/${s.targetWorkers}  up ${formatUptime(s.uptimeMs)}`,
    `requests/s ${prev ? rate(total(now), total(prev), seconds) : '-'}  restarts ${s.restarts}  master RSS ${mib(s.rss)} MiB  master lag p99 ${lagMs(s.loop?.delayP99)} ms`,
    '',
  ];
  const workers = [...s.workers].sort((a, b) => a.generation - b.generation || a.slot - b.slot || a.pid - b.pid);
  const lines = [...head, ...(workers.length ? columns(workers.map((w) => row(w, now, prev))) : ['no workers'])];
  const last = s.hangs?.at(-1);
  if (last) {
    const top = last.frames[0];
    const where = top
      ? `${top.fn} (${top.file}:${top.line}:${top.column})`
      : `native code, state ${last.native?.state}`;
    lines.push('', `last stuck worker: ${last.pid} at ${last.at}, ${(last.stuckMs / 1000).toFixed(1)} s in ${where}`);
  }
  return width ? lines.map((l) => (l.length > width ? l.slice(0, width) : l)) : lines;
}
