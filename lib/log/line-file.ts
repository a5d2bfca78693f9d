import fs from 'node:fs';
import { finished } from 'node:stream';
import { writeFdSync } from './fd-write.js';
import { LineBatcher, PIPE_BUF } from './line-batcher.js';
import { type OpenOptions, openLogFile, type OpenedLog } from './safe-open.js';

/** Batch size for a regular file, where one O_APPEND write(2) is atomic at any size. */
const FILE_BATCH_BYTES = 64 * 1024;

/**
 * For a pipe or device (say a FIFO) each chunk must be its own write(2) of at
 * most PIPE_BUF; without a writev the stream does not merge them.
 */
const NO_WRITEV_FS = { open: fs.open, write: fs.write, close: fs.close };

/**
 * 'direct': each write() is one synchronous write(2), done before write()
 * returns (so a SIGKILL right after cannot lose it); 'batched': lines wait up
 * to 20 ms in memory (see LineBatcher), and a file is written
 * asynchronously. By default a file is batched and stdout/stderr are direct.
 */
export type LineMode = 'direct' | 'batched';

export interface LineFileOptions {
  mode?: LineMode;
  /** How reopen() opens the path again (the master creates it; a worker does not). */
  reopen?: OpenOptions;
}

/** Where the batches of one descriptor go. */
interface Sink {
  readonly maxBytes: number;
  write(chunk: string): void;
  /** Writes out what it holds and closes the descriptor (never stdout or stderr). */
  end(): Promise<void>;
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

/** stdout or stderr: one synchronous write per batch, so no line is lost at exit and none reordered. */
function stdioSink(fd: 1 | 2): Sink {
  return { maxBytes: PIPE_BUF, write: (chunk) => writeFdSync(fd, chunk), end: () => Promise.resolve() };
}

/** A file written synchronously, one write(2) per chunk given. */
function directFileSink(fd: number, target: string): Sink {
  const report = reportOnce(target);
  return {
    maxBytes: fs.fstatSync(fd).isFile() ? FILE_BATCH_BYTES : PIPE_BUF,
    write(chunk) {
      try {
        const written = fs.writeSync(fd, chunk);
        if (written === Buffer.byteLength(chunk)) return;
        let rest = Buffer.from(chunk).subarray(written);
        while (rest.length > 0) rest = rest.subarray(fs.writeSync(fd, rest));
      } catch (err) {
        // ENOSPC, EIO...: the line is dropped; the response it describes must not fail for it
        report(err as Error);
      }
    },
    end: () => new Promise((resolve) => fs.close(fd, () => resolve())),
  };
}

/** A file: an fs.WriteStream (asynchronous, written with writev), no per-line sync. */
function streamSink(fd: number, target: string): Sink {
  const regular = fs.fstatSync(fd).isFile();
  const stream = fs.createWriteStream(target, regular ? { fd } : { fd, fs: NO_WRITEV_FS });
  stream.on('error', reportOnce(target));
  return {
    maxBytes: regular ? FILE_BATCH_BYTES : PIPE_BUF,
    write: (chunk) => stream.write(chunk),
    end: () =>
      new Promise((resolve) => {
        stream.end();
        // errors were already reported by the 'error' listener
        finished(stream, () => resolve());
      }),
  };
}

/**
 * Whole lines appended to a descriptor: written at once (mode 'direct'), or
 * batched (see LineBatcher) and written by an fs.WriteStream for a file or
 * synchronously in chunks of at most PIPE_BUF for stdout and stderr (lines
 * from processes sharing one pipe stay whole, and none is lost at exit).
 * reopen() opens the path again under
 * the rules of safe-open (or takes a descriptor the master opened) and swaps sinks in one synchronous step, so each
 * line goes to exactly one file; the old sink flushes into the renamed file,
 * then closes it. A failed reopen throws and leaves the old descriptor in use.
 */
export class LineFile {
  private sink: Sink;
  private closing: Promise<void> | null = null;
  private readonly batch: LineBatcher | null;
  /** Saves the lines of the last batch on stdout or stderr when the process exits abruptly. */
  private readonly flushAtExit = (): void => this.batch?.flush();

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
    this.sink = this.sinkFor(opened);
    this.batch = this.batched
      ? new LineBatcher(
          (chunk) => this.sink.write(chunk),
          () => this.sink.maxBytes,
        )
      : null;
    if (opened.kind === 'stdio') process.on('exit', this.flushAtExit);
  }

  /** Open `target` ('-' is `dash`) as the master does: created if missing. Throws UnsafePathError. */
  static open(target: string, dash: 1 | 2, opts: LineFileOptions = {}): LineFile {
    const reopen = opts.reopen ?? { create: true };
    return new LineFile(openLogFile(target, dash, reopen), { ...opts, reopen });
  }

  /** A log a worker inherited at `fd` from the master (1 and 2 are its stdout and stderr). */
  static inherited(fd: number, target: string, mode?: LineMode): LineFile {
    const opened: OpenedLog =
      fd === 1 || fd === 2 ? { kind: 'stdio', fd } : { kind: 'file', fd, path: target, created: false };
    return new LineFile(opened, { mode, reopen: { create: false } });
  }

  /** The most one write should carry so that its lines stay whole (PIPE_BUF for a pipe). */
  get maxBytes(): number {
    return this.sink.maxBytes;
  }

  /** line must be one or more complete lines ending in '\n' (in mode 'direct', at most maxBytes long). */
  write(line: string): void {
    if (this.closing !== null) return;
    if (this.batch) this.batch.add(line);
    else this.sink.write(line);
  }

  /**
   * Open the path again, or take `handed`, a descriptor of it the master
   * opened (and this LineFile then owns). Throws UnsafePathError (and keeps
   * writing to the old descriptor) if the path cannot be opened.
   */
  reopen(handed?: number): void {
    if (this.target === null || this.closing !== null) {
      if (handed !== undefined) fs.closeSync(handed);
      return;
    }
    const opened: OpenedLog =
      handed === undefined
        ? openLogFile(this.target, 1, this.opts.reopen ?? { create: false })
        : { kind: 'file', fd: handed, path: this.target, created: false };
    if (opened.kind === 'file' && this.isSameFile(opened.fd)) {
      // not rotated: keep the descriptor we have
      fs.closeSync(opened.fd);
      return;
    }
    const old = this.sink;
    this.batch?.flush();
    this.fd = opened.fd;
    this.sink = this.sinkFor(opened);
    void old.end();
  }

  /** Writes out every line written so far and closes the descriptor; later writes are dropped. */
  close(): Promise<void> {
    this.closing ??= (() => {
      this.batch?.flush();
      process.off('exit', this.flushAtExit);
      return this.sink.end();
    })();
    return this.closing;
  }

  private get batched(): boolean {
    return (this.opts.mode ?? (this.target === null ? 'direct' : 'batched')) === 'batched';
  }

  private sinkFor(opened: OpenedLog): Sink {
    if (opened.kind === 'stdio') return stdioSink(opened.fd);
    return this.batched ? streamSink(opened.fd, opened.path) : directFileSink(opened.fd, opened.path);
  }

  private isSameFile(fd: number): boolean {
    try {
      const [a, b] = [fs.fstatSync(fd), fs.fstatSync(this.fd)];
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    }
  }
}
