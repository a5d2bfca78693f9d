import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { which } from './exec.js';

/** The soft and hard limits on open files of this process (a master and its workers inherit them). */
export function openFilesLimits(): [number, number] {
  const [soft, hard] = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))!.slice(1);
  const n = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
  return [n(soft), n(hard)];
}

/**
 * Raise this process's soft limit on open files to `needed` when it is lower
 * (Node has no setrlimit; prlimit(1) can set another process's, ours
 * included). Returns why a test cannot run, or false when it can.
 */
export function roomForFiles(needed: number): string | false {
  if (openFilesLimits()[0] >= needed) return false;
  const prlimit = which('prlimit');
  if (prlimit && openFilesLimits()[1] >= needed) {
    spawnSync(prlimit, ['--pid', String(process.pid), `--nofile=${needed}:`], { stdio: 'ignore' });
  }
  const soft = openFilesLimits()[0];
  return soft >= needed ? false : `needs ulimit -n ${needed} (is ${soft})`;
}
