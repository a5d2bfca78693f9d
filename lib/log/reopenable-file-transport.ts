import fs from 'node:fs';
import { finished } from 'node:stream';
import Transport from 'winston-transport';

/** triple-beam's MESSAGE: where winston formats leave the finished line. */
export const MESSAGE: unique symbol = Symbol.for('message');

export type FileErrorHandler = (err: Error, path: string) => void;

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
 * logrotate's rename + create. Lines are buffered by an fs.WriteStream; each
 * write() must be one complete line, so that O_APPEND keeps lines from several
 * processes whole.
 */
export class ReopenableFile {
  private stream: fs.WriteStream;
  private ops: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  /** Opens synchronously so that a bad path fails at startup. */
  constructor(
    readonly path: string,
    private readonly onError: FileErrorHandler = reportToStderr,
  ) {
    this.stream = this.streamOn(fs.openSync(path, 'a', 0o644));
  }

  write(line: string): void {
    if (!this.closing) this.stream.write(line);
  }

  /**
   * Opens the path again, then swaps streams in one synchronous step: every
   * line goes to exactly one of them, and the old one flushes into the
   * (renamed) old file before it closes. If the open fails, logging goes on
   * into the old file and the promise rejects.
   */
  reopen(): Promise<void> {
    return this.serialize(async () => {
      if (this.closing) return;
      const fd = await openAppend(this.path);
      const old = this.stream;
      this.stream = this.streamOn(fd);
      await endStream(old);
    });
  }

  /** Flushes buffered lines and closes the file; later writes are dropped. */
  close(): Promise<void> {
    this.closing ??= this.serialize(() => endStream(this.stream));
    return this.closing;
  }

  private streamOn(fd: number): fs.WriteStream {
    const stream = fs.createWriteStream(this.path, { fd });
    let reported = false;
    stream.on('error', (err) => {
      if (!reported) this.onError(err, this.path);
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
  readonly file: ReopenableFile;

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
