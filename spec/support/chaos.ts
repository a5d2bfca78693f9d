// Helpers for the seeded chaos and fuzz suites: a reproducible random number
// generator, a /proc scan for the processes one run started (marked by an
// environment variable that every descendant inherits), and access-log parsing.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  weighted<T extends string>(weights: Record<T, number>): T {
    const entries = Object.entries(weights) as Array<[T, number]>;
    let r = this.next() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [item, w] of entries) {
      r -= w;
      if (r < 0) return item;
    }
    return entries.at(-1)![0];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** The seed from `envName`, or a fresh random one. */
export function seedFrom(envName: string): number {
  const raw = process.env[envName];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${envName} must be a non-negative integer, got "${raw}"`);
    return n;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

export function intFrom(envName: string, fallback: number): number {
  const n = Number(process.env[envName] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${envName} must be a positive integer`);
  return n;
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  cmdline: string;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return { pid, ppid: Number(fields[1]), state: fields[0]!, cmdline };
  } catch {
    return null; // gone meanwhile
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** How long ago `pid` started, in ms (from /proc: its start time and the system's uptime); 0 when gone. */
export function ageMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const started = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / CLK_TCK;
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.max(0, (uptime - started) * 1000);
  } catch {
    return 0;
  }
}

/**
 * Every live process whose environment holds `marker` (NAME=value, inherited
 * by daemons, workers and upgraded masters alike) or whose command line
 * mentions `dir`. Zombies are included: an unreaped child is a leak too.
 * With `prefix`, any variable starting with `marker` counts.
 */
export function processesOf(marker: string, dir: string, prefix = false): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ = '';
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      // a zombie or a process of another user: decide by its command line
    }
    const info = procInfo(pid);
    if (!info) continue;
    const vars = environ.split('\0');
    const marked = prefix ? vars.some((v) => v.startsWith(marker)) : vars.includes(marker);
    if (marked || info.cmdline.includes(dir)) out.push(info);
  }
  return out;
}

export interface AccessEntry {
  file: string;
  id: number;
  status: string;
  pid: number;
}

/**
 * Every request line of `access.log*` in `dir`, written with the format
 * `%(U)s?%(q)s %(s)s %(p)s` for requests to /r?id=N&ms=M. Other lines are
 * returned in `junk`.
 */
export function readAccessLogs(
  dir: string,
  base = 'access.log',
): { entries: AccessEntry[]; junk: string[]; files: string[] } {
  const files = readdirSync(dir)
    .filter((f) => f === base || f.startsWith(base + '.'))
    .sort();
  const entries: AccessEntry[] = [];
  const junk: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    if (text !== '' && !text.endsWith('\n')) junk.push(`${file} ends mid-line`);
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const m = /^\/r\?id=(\d+)&ms=\d+ (\d{3}) <(\d+)>$/.exec(line);
      if (m) entries.push({ file, id: Number(m[1]), status: m[2]!, pid: Number(m[3]) });
      else junk.push(`${file}: ${line}`);
    }
  }
  return { entries, junk, files };
}
