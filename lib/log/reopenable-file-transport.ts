import fs from 'node:fs';
import { finished } from 'node:stream';
import Transport from 'winston-transport';
import { LineBatcher, PIPE_BUF } from './line-batcher.js';

/** triple-beam's MESSAGE: where winston formats leave the finished line. */
export const MESSAGE: unique symbol = Symbol.for('message');

/** Batch size for a regular file, where one O_APPEND write(2) is atomic at any size. */
const FILE_BATCH_BYTES = 64 * 1024;

/**
 * For a pipe or device (say accesslog: /dev/stdout) each chunk must be its own
 * write(2) of at most PIPE_BUF; without a writev the stream does not merge them.
 */
const NO_WRITEV_FS = { open: fs.open, write: fs.write, close: fs.close };

function reportToStderr(err: Error, path: string): void {
  try {
    fs.writeSync(2, `tsgund: log file ${path}: ${err.message}\n`);
  } catch {
    // stderr is gone as well; nowhere left to report
  }
}

function openAppend(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(path, 'a', 0o644, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function endStream(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.end();
    // Errors were already reported by the stream's 'error' listener.
    finished(stream, () => resolve());
  });
}

/**
 * An append-mode line file that can be reopened on the same path, for
 * logrotate's rename + create. Lines are batched (see LineBatcher) and
 * written by an fs.WriteStream (no per-line sync); chunks end on line
 * boundaries, so lines appended by several processes stay whole.
 */
export class ReopenableFile {
  private stream: fs.WriteStream;
  private readonly batch = new LineBatcher((chunk) => this.stream.write(chunk), FILE_BATCH_BYTES);
  private ops: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  /** Opens synchronously so that a bad path fails at startup. */
  constructor(readonly path: string) {
    this.stream = this.streamOn(fs.openSync(path, 'a', 0o644));
  }

  /** line must be one complete line ending in '\n'. */
  write(line: string): void {
    if (this.closing === null) this.batch.add(line);
  }

  /**
   * Opens the path again, then swaps streams in one synchronous step: every
   * line goes to exactly one of them, and the old one flushes into the
   * (renamed) old file before it closes. If the open fails, logging goes on
   * into the old file and the promise rejects.
   */
  reopen(): Promise<void> {
    return this.serialize(async () => {
      if (this.closing !== null) return;
      const fd = await openAppend(this.path);
      const old = this.stream;
      this.batch.flush();
      this.stream = this.streamOn(fd);
      await endStream(old);
    });
  }

  /** Writes out every line written so far and closes the file; later writes are dropped. */
  close(): Promise<void> {
    this.closing ??= this.serialize(() => {
      this.batch.flush();
      return endStream(this.stream);
    });
    return this.closing;
  }

  private streamOn(fd: number): fs.WriteStream {
    const regular = fs.fstatSync(fd).isFile();
    this.batch.maxBytes = regular ? FILE_BATCH_BYTES : PIPE_BUF;
    const stream = fs.createWriteStream(this.path, regular ? { fd } : { fd, fs: NO_WRITEV_FS });
    let reported = false;
    stream.on('error', (err) => {
      if (!reported) reportToStderr(err, this.path);
      reported = true;
    });
    return stream;
  }

  private serialize(op: () => Promise<void>): Promise<void> {
    const result = this.ops.then(op);
    this.ops = result.catch(() => undefined);
    return result;
  }
}

/** A winston transport writing to a ReopenableFile. */
export class ReopenableFileTransport extends Transport {
  private readonly file: ReopenableFile;

  constructor(path: string, opts?: Transport.TransportStreamOptions) {
    super(opts);
    this.file = new ReopenableFile(path);
  }

  override log(info: { [MESSAGE]: string }, next: () => void): void {
    this.file.write(`${info[MESSAGE]}\n`);
    next();
  }

  reopen(): Promise<void> {
    return this.file.reopen();
  }

  /** Also called by winston when the transport is removed or the logger ends. */
  override close(): Promise<void> {
    return this.file.close();
  }
}
