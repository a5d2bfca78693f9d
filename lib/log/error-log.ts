// The master's error log. Alone, it writes each formatted line to a LineFile,
// which USR1 reopens, as a worker does (error-line.ts): no logging library,
// so the master starts without loading winston (about 100 ms of CPU). Once
// there are transports beside it (a config file's, syslog: see
// master/logs/error-transports.ts), a winston logger takes over, whose first
// transport hands each line to the same LineFile; the workers' lines, read
// from their pipes, then go through it too.
import type winston from 'winston';
import type Transport from 'winston-transport';
import { oneLine } from '../errors.js';
import {
  type Entry,
  type ErrorLog,
  type ErrorLogOptions,
  LEVELS,
  type WorkerEntry,
  errorLogOver,
  formatEntry,
  fromWorker,
} from './error-line.js';
import { LineFile } from './line-file.js';

// Built-ins without their ES module facade (see node-http.ts).
const { writeSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { once } = process.getBuiltinModule('node:events');

/** triple-beam's MESSAGE: where winston formats leave the finished line. */
const MESSAGE: unique symbol = Symbol.for('message');

export interface MasterErrorLog extends ErrorLog {
  /** A worker's entry, read from its pipe, its text escaped: logged at its level (its level filter ran in the worker). */
  forward(entry: WorkerEntry): void;
  /** Put `transports` beside tsgund's file in place of the previous ones, which are closed. */
  setExtraTransports(transports: Transport[]): void;
  /** While the transports have not taken what was logged: a promise that settles once they have; else null. */
  busy(): Promise<void> | null;
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

/** A winston logger whose first transport writes each formatted line to `file`, and its error reporter. */
function winstonLogger(
  opts: ErrorLogOptions,
  file: LineFile,
): { logger: winston.Logger; report: (err: unknown) => void } {
  const require = createRequire(import.meta.url);
  const { createLogger, format } = require('winston') as typeof winston;
  const Base = require('winston-transport') as typeof Transport;
  class LineTransport extends Base {
    override log(info: { [MESSAGE]: string }, next: () => void): void {
      file.write(`${info[MESSAGE]}\n`);
      next();
    }
  }
  const logger = createLogger({
    levels: LEVELS,
    level: opts.loglevel,
    // the entry's own level (winston's LEVEL), which a config's format may not recolor
    format: format.printf((info) => formatEntry(opts.logFormat, info as unknown as Entry)),
    transports: [new LineTransport()],
    exitOnError: false,
  });
  const report = reportTransportError(logger);
  logger.on('error', report);
  return { logger, report };
}

/** Logs into `file`, or into opts.errorlog opened here (throws UnsafePathError). */
export function createErrorLog(opts: ErrorLogOptions, file = LineFile.open(opts.errorlog, 2)): MasterErrorLog {
  let winstonLog: ReturnType<typeof winstonLogger> | null = null;
  let extra: Transport[] = [];
  let closed = false;
  const emit = (entry: Entry): void => {
    if (closed) return;
    const full = { ...entry, pid: entry.pid ?? process.pid, time: entry.time ?? new Date() };
    // the logger's own filter, which a forwarded entry meets here
    if (!winstonLog) {
      if (LEVELS[full.level] <= LEVELS[opts.loglevel]) file.write(`${formatEntry(opts.logFormat, full)}\n`);
      return;
    }
    try {
      winstonLog.logger.log(full);
    } catch (err) {
      winstonLog.report(err); // a config's transport that throws in log()
    }
  };
  const log = errorLogOver(opts, file, emit, () => {
    closed = true;
    const ending = winstonLog?.logger;
    if (!ending) return Promise.resolve();
    // The logger finishes after its transports have taken every line.
    return new Promise<void>((resolve) => {
      ending.once('finish', resolve);
      ending.end();
    });
  });
  return {
    ...log,
    forward: (entry) => emit(fromWorker(entry)),
    // winston's logger is a stream (readable-stream's): past its highWaterMark it buffers whatever it is given;
    // alone, the LineFile writes each line before log() returns
    busy: () => {
      const logger = winstonLog?.logger;
      if (!logger || closed || logger.writableLength < logger.writableHighWaterMark) return null;
      return once(logger, 'drain').then(() => {});
    },
    setExtraTransports: (transports) => {
      if (closed) return;
      if (!winstonLog && transports.length === 0) return;
      winstonLog ??= winstonLogger(opts, file);
      const { logger } = winstonLog;
      // added before the old ones go, in one step: each line reaches exactly one set
      for (const t of transports) logger.add(t);
      for (const t of extra) logger.remove(t); // winston closes a transport it removes
      extra = transports;
    },
  };
}
