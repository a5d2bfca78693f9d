import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { compileAccessLogFormat, keepClientAddress } from './access-format.js';
import { LineFile } from './line-file.js';
import { LineBatcher, atTurnEnd } from './line-batcher.js';
import { beforeLastBytes, countBodyBytes, isHttp1Response, keepWriteHeadHeaders } from './response-tracking.js';

export const DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

export interface AccessLogOptions {
  /** A file path, or '-' for stdout. */
  accesslog: string;
  accessLogFormat: string;
  /** Batch lines in memory for up to 20 ms and write a file asynchronously (a killed process loses them). */
  accessLogBuffered?: boolean;
}

export interface AccessLog {
  /**
   * Call when a request starts, before the app sees it. The line is made
   * when the response is complete (res.end(), or the write() that completes
   * a Content-Length body), before its last bytes go to the socket: unless
   * the log is buffered, it is in the kernel before the client can have the
   * whole response, so a worker killed after answering never loses it.
   * %(D)s and friends measure up to that call. A response destroyed before
   * it gets no line.
   */
  track(req: IncomingMessage, res: ServerResponse): void;
  /** As ErrorLog's: the path opened again, or `handed`, the master's descriptor of it. */
  reopen(handed?: number): void;
  close(): Promise<void>;
}

/** null if fmt is a valid access_log_format, else a short reason. */
export function validateAccessLogFormat(fmt: string): string | null {
  const compiled = compileAccessLogFormat(fmt);
  return typeof compiled === 'string' ? compiled : null;
}

/**
 * Logs into the descriptor `inheritedFd` (a worker's, opened by the master
 * for opts.accesslog), or into opts.accesslog opened here. Throws on an
 * invalid format (validate it first for a friendly message) or an
 * unopenable file.
 */
export function createAccessLog(opts: AccessLogOptions, inheritedFd?: number): AccessLog {
  const format = compileAccessLogFormat(opts.accessLogFormat);
  if (typeof format === 'string') throw new Error(`invalid access log format: ${format}`);
  const mode = opts.accessLogBuffered ? 'batched' : 'direct';
  const sink =
    inheritedFd === undefined
      ? LineFile.open(opts.accesslog, 1, { mode })
      : LineFile.inherited(inheritedFd, opts.accesslog, mode);
  // unbuffered: one write(2) per event-loop turn, before the sockets of that turn's responses get their last bytes
  const turn =
    mode === 'direct'
      ? new LineBatcher(
          (chunk) => sink.write(chunk),
          () => sink.maxBytes,
          atTurnEnd,
        )
      : null;
  const flushAtExit = (): void => turn?.flush();
  if (turn) process.on('exit', flushAtExit);
  const write = turn
    ? (line: string, socket: Socket | null) => (socket ? turn.add(line, socket) : turn.writeNow(line))
    : (line: string) => sink.write(line);
  return {
    track(req, res) {
      const startNs = process.hrtime.bigint();
      // unbuffered, the bytes tell when a Content-Length body is complete (see beforeLastBytes)
      if (format.countsBytes || turn) countBodyBytes(res);
      if (format.readsResponseHeaders) keepWriteHeadHeaders(res);
      if (isHttp1Response(res)) beforeLastBytes(res, () => write(format.line(req, res, startNs), res.socket));
      // http2's compatibility response has no such hook: its line is written at 'finish', as it always was
      else {
        // its socket is a proxy of the stream's, which knows no address once the stream has closed
        keepClientAddress(req);
        res.once('finish', () => write(format.line(req, res, startNs), null));
      }
    },
    reopen(handed) {
      turn?.flush();
      sink.reopen(handed);
    },
    close() {
      turn?.flush();
      process.off('exit', flushAtExit);
      return sink.close();
    },
  };
}
