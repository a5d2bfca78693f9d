import { inspect } from 'node:util';
import winston from 'winston';
import { ReopenableFileTransport } from './reopenable-file-transport.js';
import { StderrTransport } from './stderr-transport.js';
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
  reopen(): Promise<void>;
  /** Resolves once every line logged before it was called is written. */
  close(): Promise<void>;
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

export function createErrorLog(opts: ErrorLogOptions): ErrorLog {
  const sink = opts.errorlog === '-' ? new StderrTransport() : new ReopenableFileTransport(opts.errorlog);
  const logger = winston.createLogger({
    levels: LEVELS,
    level: opts.loglevel,
    format: opts.logFormat === 'json' ? jsonFormat : textFormat,
    transports: [sink],
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
    reopen: () => (sink instanceof ReopenableFileTransport ? sink.reopen() : Promise.resolve()),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        // The logger finishes after its transports have taken every line.
        logger.once('finish', resolve);
        logger.end();
      }).then(() => (sink instanceof ReopenableFileTransport ? sink.close() : undefined));
      return closing;
    },
  };
}
