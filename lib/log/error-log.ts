// The master's error log: a winston logger whose first transport hands each
// formatted line to a LineFile, which USR1 reopens. Beside it: the transports
// of a config file and syslog (error-transports.ts), which also get the
// workers' lines, read from their pipes. Workers write the same lines without
// winston (error-line.ts, error-pipe.ts).
import { writeSync } from 'node:fs';
import winston from 'winston';
import { oneLine } from '../errors.js';
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

export interface MasterErrorLog extends ErrorLog {
  /** A worker's entry, read from its pipe: logged as it came (its level filter ran in the worker). */
  forward(entry: Entry & { pid: number }): void;
  /** Put `transports` beside tsgund's file in place of the previous ones, which are closed. */
  setExtraTransports(transports: Transport[]): void;
}

/** One line on stderr per failing transport: the error log cannot log its own failure. */
function reportTransportError(logger: object): (err: unknown, transport?: unknown) => void {
  const seen = new WeakSet<object>();
  return (err, transport) => {
    const key = typeof transport === 'object' && transport !== null ? transport : logger;
    if (seen.has(key)) return;
    seen.add(key);
    try {
      writeSync(2, `tsgund: error log transport failed: ${oneLine(err)}\n`);
    } catch {
      // stderr is gone as well
    }
  };
}

/** Logs into `file`, or into opts.errorlog opened here (throws UnsafePathError). */
export function createErrorLog(opts: ErrorLogOptions, file = LineFile.open(opts.errorlog, 2)): MasterErrorLog {
  const logger = winston.createLogger({
    levels: LEVELS,
    level: opts.loglevel,
    // the entry's own level (winston's LEVEL), which a config's format may not recolor
    format: winston.format.printf((info) => formatEntry(opts.logFormat, info as unknown as Entry)),
    transports: [new LineTransport(file)],
    exitOnError: false,
  });
  const report = reportTransportError(logger);
  logger.on('error', report);
  let extra: Transport[] = [];
  let closed = false;
  const emit = (entry: Entry): void => {
    if (closed) return;
    try {
      logger.log({ ...entry, pid: entry.pid ?? process.pid, time: entry.time ?? new Date() });
    } catch (err) {
      report(err); // a config's transport that throws in log()
    }
  };
  const log = errorLogOver(opts, file, emit, () => {
    closed = true;
    // The logger finishes after its transports have taken every line.
    return new Promise<void>((resolve) => {
      logger.once('finish', resolve);
      logger.end();
    });
  });
  return {
    ...log,
    forward: emit,
    setExtraTransports: (transports) => {
      if (closed) return;
      // added before the old ones go, in one step: each line reaches exactly one set
      for (const t of transports) logger.add(t);
      for (const t of extra) logger.remove(t); // winston closes a transport it removes
      extra = transports;
    },
  };
}
