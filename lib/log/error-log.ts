// The master's error log: a winston logger whose one transport hands each
// formatted line to a LineFile, which USR1 reopens. Workers write the same
// lines without winston (error-line.ts).
import winston from 'winston';
import Transport from 'winston-transport';
import { type Entry, type ErrorLog, type ErrorLogOptions, LEVELS, errorLogOver, formatEntry } from './error-line.js';
import { LineFile } from './line-file.js';

/** triple-beam's MESSAGE: where winston formats leave the finished line. */
const MESSAGE: unique symbol = Symbol.for('message');

/** The winston transport: each formatted line goes to a LineFile. */
class LineTransport extends Transport {
  constructor(private readonly file: LineFile) {
    super();
  }

  override log(info: { [MESSAGE]: string }, next: () => void): void {
    this.file.write(`${info[MESSAGE]}\n`);
    next();
  }
}

/** Logs into `file`, or into opts.errorlog opened here (throws LogPathError). */
export function createErrorLog(opts: ErrorLogOptions, file = LineFile.open(opts.errorlog, 2)): ErrorLog {
  const logger = winston.createLogger({
    levels: LEVELS,
    level: opts.loglevel,
    format: winston.format.printf((info) => formatEntry(opts.logFormat, info as unknown as Entry)),
    transports: [new LineTransport(file)],
    exitOnError: false,
  });
  return errorLogOver(
    opts,
    file,
    (entry) => logger.log(entry),
    // The logger finishes after its transports have taken every line.
    () =>
      new Promise<void>((resolve) => {
        logger.once('finish', resolve);
        logger.end();
      }),
  );
}
