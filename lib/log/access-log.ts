import type { IncomingMessage, ServerResponse } from 'node:http';
import { compileAccessLogFormat } from './access-format.js';
import { LineFile } from './line-file.js';
import { countBodyBytes, keepWriteHeadHeaders } from './response-tracking.js';

export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

export interface AccessLogOptions {
  /** A file path, or '-' for stdout. */
  accesslog: string;
  accessLogFormat: string;
}

export interface AccessLog {
  /**
   * Call when a request starts, before the app sees the response: counts body
   * bytes for %(b)s/%(B)s when no Content-Length is set, and makes headers
   * passed to writeHead() visible to %({name}o)s. A no-op when the format
   * needs neither.
   */
  track(res: ServerResponse): void;
  /** Call once the response has finished; startNs is process.hrtime.bigint() at request start. */
  log(req: IncomingMessage, res: ServerResponse, startNs: bigint): void;
  /** Throws LogPathError, and keeps logging to the old file, when the path cannot be opened again. */
  reopen(): void;
  close(): Promise<void>;
}

/** null if fmt is a valid access_log_format, else a short reason. */
export function validateAccessLogFormat(fmt: string): string | null {
  const compiled = compileAccessLogFormat(fmt);
  return typeof compiled === 'string' ? compiled : null;
}

/**
 * Logs into `file`, or into opts.accesslog opened here. Throws on an invalid
 * format (validate it first for a friendly message) or an unopenable file.
 */
export function createAccessLog(opts: AccessLogOptions, file?: LineFile): AccessLog {
  const format = compileAccessLogFormat(opts.accessLogFormat);
  if (typeof format === 'string') throw new Error(`invalid access log format: ${format}`);
  const sink = file ?? LineFile.open(opts.accesslog, 1, { batch: true });
  return {
    track(res) {
      if (format.countsBytes) countBodyBytes(res);
      if (format.readsResponseHeaders) keepWriteHeadHeaders(res);
    },
    log: (req, res, startNs) => sink.write(format.line(req, res, startNs)),
    reopen: () => sink.reopen(),
    close: () => sink.close(),
  };
}
