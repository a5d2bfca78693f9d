import { basename, dirname, join } from 'node:path';
import { ConfigError, errnoOf } from '../../errors.js';
import { inspectPidfile, readPid } from './master-proof.js';
import { randomHex } from '../../random-hex.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { closeSync, constants, fchmodSync, openSync, renameSync, unlinkSync, writeSync } =
  process.getBuiltinModule('node:fs');

const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The master's pidfile: written atomically, removed only while it still names
 * us, and held open for the master's whole life so that `tsgund stop` and the
 * init script can tell this master from a process that reused its pid.
 */
export class Pidfile {
  private fd: number | null = null;

  constructor(
    public path: string,
    private readonly controlSocket: string | null,
  ) {}

  /** Refuse to start over a live master of this pidfile; a stale file is simply taken over. */
  async claim(): Promise<void> {
    const found = await inspectPidfile(this.path, this.controlSocket);
    if (found.kind === 'master' && found.pid !== process.pid) {
      throw new ConfigError(
        `pidfile ${this.path} names a running master (pid ${found.pid}); stop it first or use another --pid`,
      );
    }
    this.write();
  }

  /**
   * Write through a new file under an unpredictable name in the same
   * directory, then rename it into place. The directory may be writable by
   * others: O_EXCL|O_NOFOLLOW never opens something planted there, and the
   * random name cannot be planted in advance.
   */
  write(): void {
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${randomHex(8)}.tmp`);
    let fd: number;
    try {
      fd = openSync(tmp, TEMP_FLAGS, 0o644);
    } catch (err) {
      throw new ConfigError(`cannot write pidfile ${this.path}: ${errnoOf(err)}`);
    }
    try {
      fchmodSync(fd, 0o644); // whatever the umask: init scripts and monitors read it
      writeSync(fd, `${process.pid}\n`);
      renameSync(tmp, this.path);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // renamed or never there
      }
      throw new ConfigError(`cannot write pidfile ${this.path}: ${errnoOf(err)}`);
    }
    this.release();
    this.fd = fd;
  }

  /** Take a new name (the upgraded master drops its ".2" when the old one exits). */
  moveTo(path: string): void {
    if (readPid(this.path) === process.pid) renameSync(this.path, path);
    this.path = path;
    if (readPid(path) !== process.pid) this.write();
  }

  remove(): void {
    if (readPid(this.path) === process.pid) {
      try {
        unlinkSync(this.path);
      } catch {
        // gone already
      }
    }
    this.release();
  }

  private release(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
