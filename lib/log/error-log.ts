import { inspect } from 'node:util';
import winston from 'winston';
import Transport from 'winston-transport';
import { LineFile } from './line-file.js';
import { errorLogTime } from './time.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical';

export interface ErrorLogOptions {
  /** A file path, or '-' for stderr. */
  errorlog: string;
  loglevel: LogLevel;
  logFormat: 'text' | 'json';
}

export interface ErrorLog {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  /** Appends err.stack when err is an Error (any other value is inspected). */
  error(msg: string, err?: unknown): void;
  critical(msg: string, err?: unknown): void;
  /** Throws LogPathError, and keeps logging to the old file, when the path cannot be opened again. */
  reopen(): void;
  /** Resolves once every line logged before it was called is written. */
  close(): Promise<void>;
}

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

const LEVELS: Record<LogLevel, number> = { critical: 0, error: 1, warning: 2, info: 3, debug: 4 };

interface Entry {
  level: LogLevel;
  message: string;
  stack?: string;
}

/** gunicorn's line: `[2026-11-25 09:20:36 +0000] [1234] [INFO] message`. */
const textFormat = winston.format.printf((info) => {
  const { level, message, stack } = info as unknown as Entry;
  const line = `[${errorLogTime(new Date())}] [${process.pid}] [${level.toUpperCase()}] ${message}`;
  return stack === undefined ? line : `${line}\n${stack}`;
});

const jsonFormat = winston.format.printf((info) => {
  const { level, message, stack } = info as unknown as Entry;
  // JSON.stringify leaves out stack when it is undefined.
  return JSON.stringify({ time: new Date().toISOString(), pid: process.pid, level, msg: message, stack });
});

function detailOf(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof Error) return err.stack ?? String(err);
  return inspect(err);
}

/** Logs into `file`, or into opts.errorlog opened here (throws LogPathError). */
export function createErrorLog(opts: ErrorLogOptions, file = LineFile.open(opts.errorlog, 2)): ErrorLog {
  const logger = winston.createLogger({
    levels: LEVELS,
    level: opts.loglevel,
    format: opts.logFormat === 'json' ? jsonFormat : textFormat,
    transports: [new LineTransport(file)],
    exitOnError: false,
  });
  let closing: Promise<void> | null = null;

  const write = (level: LogLevel, message: string, err?: unknown): void => {
    if (closing !== null) return;
    const entry: Entry = { level, message, stack: detailOf(err) };
    logger.log(entry);
  };

  return {
    debug: (msg) => write('debug', msg),
    info: (msg) => write('info', msg),
    warning: (msg) => write('warning', msg),
    error: (msg, err) => write('error', msg, err),
    critical: (msg, err) => write('critical', msg, err),
    reopen: () => file.reopen(),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        // The logger finishes after its transports have taken every line.
        logger.once('finish', resolve);
        logger.end();
      }).then(() => file.close());
      return closing;
    },
  };
}

/** Reopen each log; one that fails keeps its old descriptor and gets one error line (in `log`). */
export function reopenEach(log: ErrorLog, files: Iterable<{ reopen(): void } | null>): void {
  for (const file of files) {
    try {
      file?.reopen();
    } catch (err) {
      log.error(`cannot reopen log file: ${(err as Error).message}; still writing to the old one`);
    }
  }
}
