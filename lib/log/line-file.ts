import fs from 'node:fs';
import sonicBoom from 'sonic-boom';
import type { SonicBoom } from 'sonic-boom';
import { type OpenOptions, openLogFile, type OpenedLog } from './safe-open.js';

/** A write of at most PIPE_BUF bytes to a pipe is never interleaved with another writer's. */
const PIPE_BUF = 4096;
/** One O_APPEND write(2) to a regular file is atomic at any size; this only bounds a write's length. */
const FILE_MAX_WRITE = 64 * 1024;
/**
 * A batched log (the access log) holds lines until this many bytes are waiting
 * or FLUSH_AFTER_MS has passed. Writing once per event-loop turn cost about 13%
 * of keep-alive throughput with an access log; batching for 20 ms about 6%.
 */
const MIN_BATCH_BYTES = 4000;
const FLUSH_AFTER_MS = 20;

export interface LineFileOptions {
  /** Batch lines (the access log); otherwise each line is written at once (the error log). */
  batch?: boolean;
  /** How reopen() opens the path again (the master creates it; a worker does not). */
  reopen?: OpenOptions;
}

function reportOnce(target: string): (err: Error) => void {
  let reported = false;
  return (err) => {
    if (reported) return;
    reported = true;
    try {
      fs.writeSync(2, `tsgund: log file ${target}: ${err.message}\n`);
    } catch {
      // stderr is gone as well; nowhere left to report
    }
  };
}

/**
 * Whole lines appended to a descriptor through sonic-boom, pino's writer:
 * asynchronous writes for a regular file, synchronous ones of at most PIPE_BUF
 * for a pipe, terminal or stdio (so lines from processes sharing one pipe stay
 * whole, and none is lost at exit). reopen() opens the path again under the
 * rules of safe-open and swaps writers in one synchronous step, so each line
 * goes to exactly one file; the old writer flushes into the renamed file, then
 * closes it. A failed reopen throws and leaves the old descriptor in use.
 */
export class LineFile {
  private boom: SonicBoom;
  private broken = false;
  private closing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Bytes handed to the current writer, and bytes it has written (to know when a batch is pending). */
  private queued = 0;
  private written = 0;
  private readonly flushAtExit = (): void => {
    try {
      if (!this.broken) this.boom.flushSync();
    } catch {
      // the descriptor is gone; nothing more can be saved
    }
  };

  /** The descriptor lines go to now (the master hands it to workers it forks). */
  fd: number;
  /** The path reopen() opens; null for stdout and stderr, which are not ours to reopen. */
  readonly target: string | null;

  constructor(
    opened: OpenedLog,
    private readonly opts: LineFileOptions = {},
  ) {
    this.fd = opened.fd;
    this.target = opened.kind === 'file' ? opened.path : null;
    this.boom = this.writerFor(opened.fd);
    process.on('exit', this.flushAtExit);
  }

  /** Open `target` ('-' is `dash`) as the master does: created if missing. Throws LogPathError. */
  static open(target: string, dash: 1 | 2, opts: LineFileOptions = {}): LineFile {
    const reopen = opts.reopen ?? { create: true };
    return new LineFile(openLogFile(target, dash, reopen), { ...opts, reopen });
  }

  /** A log a worker inherited at `fd` from the master (1 and 2 are its stdout and stderr). */
  static inherited(fd: number, target: string, batch: boolean): LineFile {
    const opened: OpenedLog =
      fd === 1 || fd === 2 ? { kind: 'stdio', fd } : { kind: 'file', fd, path: target, created: false };
    return new LineFile(opened, { batch, reopen: { create: false } });
  }

  /** line must be one complete line ending in '\n'. */
  write(line: string): void {
    if (this.closing !== null || this.broken) return;
    this.boom.write(line);
    if (!this.opts.batch) return;
    this.queued += Buffer.byteLength(line);
    this.timer ??= setTimeout(this.onTimer, FLUSH_AFTER_MS).unref();
  }

  /** Throws LogPathError (and keeps writing to the old descriptor) if the path cannot be opened. */
  reopen(): void {
    if (this.target === null || this.closing !== null) return;
    const opened = openLogFile(this.target, 1, this.opts.reopen ?? { create: false });
    if (opened.kind === 'file' && this.isSameFile(opened.fd)) {
      // not rotated: keep the descriptor we have (and its buffered lines)
      fs.closeSync(opened.fd);
      return;
    }
    const old = this.boom;
    const wasBroken = this.broken;
    old.removeAllListeners('write');
    this.fd = opened.fd;
    this.boom = this.writerFor(opened.fd);
    this.broken = false;
    this.queued = 0;
    this.written = 0;
    void endWriter(old, wasBroken);
  }

  /** Writes out every line written so far and closes the descriptor; later writes are dropped. */
  close(): Promise<void> {
    this.closing ??= (() => {
      if (this.timer) clearTimeout(this.timer);
      process.off('exit', this.flushAtExit);
      return endWriter(this.boom, this.broken);
    })();
    return this.closing;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    if (this.closing !== null || this.broken || this.written >= this.queued) return;
    // flush() does nothing while a write is in flight: come back until the batch is out
    this.boom.flush();
    this.timer = setTimeout(this.onTimer, FLUSH_AFTER_MS).unref();
  };

  private isSameFile(fd: number): boolean {
    try {
      const [a, b] = [fs.fstatSync(fd), fs.fstatSync(this.fd)];
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    }
  }

  private writerFor(fd: number): SonicBoom {
    const regular = fs.fstatSync(fd).isFile();
    const boom = new sonicBoom.SonicBoom({
      fd,
      sync: !regular,
      maxWrite: regular ? FILE_MAX_WRITE : PIPE_BUF,
      minLength: this.opts.batch ? MIN_BATCH_BYTES : 0,
    });
    const report = reportOnce(this.target ?? (fd === 1 ? 'stdout' : 'stderr'));
    boom.on('error', (err: Error) => {
      // a write failed (ENOSPC, EPIPE, ...): drop lines until the next reopen rather than pile them up
      report(err);
      if (boom === this.boom) this.broken = true;
    });
    if (this.opts.batch) boom.on('write', (n: number) => (this.written += n));
    return boom;
  }
}

/** Flush and close a writer (a broken one without flushing); sonic-boom leaves fd 1 and 2 open. */
function endWriter(boom: SonicBoom, broken: boolean): Promise<void> {
  return new Promise((resolve) => {
    boom.once('close', () => resolve());
    boom.once('error', () => resolve());
    try {
      if (broken) boom.destroy();
      else boom.end();
    } catch {
      resolve(); // already destroyed
    }
  });
}
