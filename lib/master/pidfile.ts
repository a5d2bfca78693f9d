import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { ConfigError, errnoOf } from '../errors.js';

export function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is `pid` a running tsgund master (not just any process that reused the pid)? */
export function isMaster(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(': master [') || cmdline.includes('tsgund');
  } catch {
    return true; // no /proc: trust that the pid is alive
  }
}

/** The master's pidfile: written atomically, removed only while it still names us. */
export class Pidfile {
  constructor(public path: string) {}

  /** Refuse to start over a live master; a stale file is simply taken over. */
  claim(): void {
    const pid = readPid(this.path);
    if (pid !== null && pid !== process.pid && isMaster(pid)) {
      throw new ConfigError(
        `pidfile ${this.path} names a running master (pid ${pid}); stop it first or use another --pid`,
      );
    }
    this.write();
  }

  write(): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644 });
      renameSync(tmp, this.path);
    } catch (err) {
      throw new ConfigError(`cannot write pidfile ${this.path}: ${errnoOf(err)}`);
    }
  }

  /** Take a new name (the upgraded master drops its ".2" when the old one exits). */
  moveTo(path: string): void {
    if (readPid(this.path) === process.pid) renameSync(this.path, path);
    this.path = path;
    if (readPid(path) !== process.pid) this.write();
  }

  remove(): void {
    if (readPid(this.path) !== process.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // gone already
    }
  }
}
