// The error log's interface and its line, shared by the master's winston
// logger (error-log.ts) and the workers' direct writer below. A worker writes
// the same lines straight to its inherited descriptor so that it boots without
// loading winston and its 30-odd modules, which sit on every worker's path to
// its first request (see the README's benchmark notes).
import { inspect } from 'node:util';
import type { LineFile } from './line-file.js';
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
  /**
   * Open the path again, or take `handed`, a descriptor of it the master opened.
   * Throws UnsafePathError, and keeps logging to the old file, when the path cannot be opened again.
   */
  reopen(handed?: number): void;
  /** Resolves once every line logged before it was called is written. */
  close(): Promise<void>;
}

/** Lower is more severe: a line is written when its level is at or below the configured one. */
export const LEVELS: Record<LogLevel, number> = { critical: 0, error: 1, warning: 2, info: 3, debug: 4 };

export interface Entry {
  level: LogLevel;
  message: string;
  stack?: string;
  /** The process the line is from (a worker's, when the master logs it for the worker): this one by default. */
  pid?: number;
  time?: Date;
}

/** gunicorn's line, `[2026-11-25 09:20:36 +0000] [1234] [INFO] message`, or one JSON object. */
export function formatEntry(format: ErrorLogOptions['logFormat'], entry: Entry): string {
  const { level, message, stack, pid = process.pid, time = new Date() } = entry;
  if (format === 'json') {
    // JSON.stringify leaves out stack when it is undefined.
    return JSON.stringify({ time: time.toISOString(), pid, level, msg: message, stack });
  }
  const line = `[${errorLogTime(time)}] [${pid}] [${level.toUpperCase()}] ${message}`;
  return stack === undefined ? line : `${line}\n${stack}`;
}

function detailOf(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (err instanceof Error) return err.stack ?? String(err);
  return inspect(err);
}

/** Where a logger's lines go: a LineFile, or a worker's pipe to the master (error-pipe.ts). */
export type LineSink = Pick<LineFile, 'write' | 'reopen' | 'close'>;

/** The shared half of both loggers: level filter, drop after close, reopen and close of the file. */
export function errorLogOver(
  opts: ErrorLogOptions,
  file: LineSink,
  emit: (entry: Entry) => void,
  finish: () => Promise<void>,
): ErrorLog {
  let closing: Promise<void> | null = null;
  const write = (level: LogLevel, message: string, err?: unknown): void => {
    if (closing !== null || LEVELS[level] > LEVELS[opts.loglevel]) return;
    emit({ level, message, stack: detailOf(err) });
  };
  return {
    debug: (msg) => write('debug', msg),
    info: (msg) => write('info', msg),
    warning: (msg) => write('warning', msg),
    error: (msg, err) => write('error', msg, err),
    critical: (msg, err) => write('critical', msg, err),
    reopen: (handed) => file.reopen(handed),
    close: () => {
      closing ??= finish().then(() => file.close());
      return closing;
    },
  };
}

/** A worker's error log: each line formatted and handed to `file`, no logging library. */
export function createDirectErrorLog(opts: ErrorLogOptions, file: LineSink): ErrorLog {
  return errorLogOver(
    opts,
    file,
    (entry) => file.write(`${formatEntry(opts.logFormat, entry)}\n`),
    () => Promise.resolve(),
  );
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
