// The statsBind listener: a small HTTP server run by the master (never by the
// workers), separate from the application's sockets, answering
//   GET /healthz  200 "ok" while at least one worker is ready, else 503
//   GET /readyz   200 while the current generation serves and the master is
//                 neither shutting down nor paused by WINCH, else 503
//   GET /metrics  Prometheus text format (lib/stats/master-metrics.ts): tsgund's
//                 own metrics, then the app's, collected from the workers
// The arbiter loads this module only when statsBind is set, so prom-client
// costs nothing otherwise.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ConfigError, errnoOf as errno } from '../errors.js';
import { http } from '../node-http.js';
import { formatBind, parseBind, type BindAddress } from '../listeners/address.js';
import { describeBindError } from '../listeners/handles.js';
import { freeSocketPath } from '../listeners/unix-path.js';
import type { StatusSnapshot } from '../protocol/status.js';
import type { ErrorLog } from '../log/error-line.js';
import { healthy, ready, type Verdict } from './health.js';
import type { AppScrape } from './app-metrics-collector.js';
import type { MasterMetrics } from './master-metrics.js';

export { MasterMetrics } from './master-metrics.js';

export interface StatsSource {
  healthy(): Verdict;
  ready(): Verdict;
  snapshot(): StatusSnapshot;
  metrics: MasterMetrics;
  /** The app's own metrics, from the workers (null: none collected). */
  collectApp(): Promise<AppScrape | null>;
}

export interface StatsServer {
  /** Stop answering (open scrape connections are dropped) and release the address. */
  close(): void;
}

export interface StatsServerOptions {
  /**
   * When the address is in use, log it and keep trying every second instead of
   * failing: a master started by USR2 shares the host with the old master,
   * which holds the stats address until it exits.
   */
  waitIfBusy?: boolean;
}

const RETRY_MS = 1000;

/**
 * The listener runs in the master, so every connection costs the master a
 * descriptor and memory: scrapers and health checks need few, and a client
 * that holds one open without a request gets it closed within seconds.
 */
export const STATS_LIMITS = {
  /**
   * Open connections at once. A connection over the cap closes the oldest one
   * that is not being answered (idle, or still sending its request head), so
   * a probe always gets through: connections a client merely holds open can
   * delay no health check. Only when every connection is being answered is
   * the newest closed.
   */
  maxConnections: 64,
  /** A connection must send its request headers within this (ms), else 408. */
  headersTimeout: 5000,
  /** ... and the whole request within this. */
  requestTimeout: 10_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeout: 5000,
  /** A connection silent this long is closed, whatever it is doing. */
  idleTimeout: 10_000,
} as const;

/** The source the arbiter passes: health and readiness decided from its snapshot. */
export function statsSource(
  snapshot: () => StatusSnapshot,
  metrics: MasterMetrics,
  collectApp: () => Promise<AppScrape | null>,
): StatsSource {
  return { snapshot, metrics, collectApp, healthy: () => healthy(snapshot()), ready: () => ready(snapshot()) };
}

function bindError(label: string, code: string): ConfigError {
  return new ConfigError(`cannot bind the stats listener ${label} (stats-bind): ${describeBindError(code)}`);
}

async function listen(server: Server, address: BindAddress, label: string): Promise<void> {
  const busy = address.kind === 'unix' ? await freeSocketPath(address.path) : null;
  if (busy) throw bindError(label, busy);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: unknown) => reject(bindError(label, errno(err)));
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (address.kind === 'tcp') server.listen({ host: address.host, port: address.port, exclusive: true }, done);
    else if (address.kind === 'unix') server.listen({ path: address.path, exclusive: true }, done);
    else server.listen({ fd: address.fd, exclusive: true }, done);
  });
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function answer(req: IncomingMessage, res: ServerResponse, source: StatsSource, log: ErrorLog): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics')
    return send(res, 404, 'not found: try /healthz, /readyz or /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'method not allowed\n');
  }
  if (path === '/metrics') {
    try {
      const app = await source.collectApp();
      const text = await source.metrics.render(source.snapshot(), app);
      return send(res, 200, text, source.metrics.contentType);
    } catch (err) {
      log.error('stats listener: cannot render /metrics', err);
      return send(res, 500, 'internal error (see the error log)\n');
    }
  }
  const verdict = path === '/healthz' ? source.healthy() : source.ready();
  send(res, verdict.ok ? 200 : 503, verdict.why + '\n');
}

/** See STATS_LIMITS.maxConnections: at the cap, the oldest connection not being answered makes room. */
function capConnections(server: Server, max: number): void {
  const open = new Set<Socket>(); // insertion order: the oldest first
  const answering = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= max) {
      const oldestIdle = [...open].find((s) => !answering.has(s));
      if (oldestIdle === undefined) return void socket.destroy();
      open.delete(oldestIdle);
      oldestIdle.destroy();
    }
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      answering.delete(socket);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    answering.add(req.socket);
    res.once('close', () => answering.delete(req.socket));
  });
}

/** The HTTP server of the listener, with the limits above. */
function createHttpServer(source: StatsSource, log: ErrorLog): Server {
  const server = http.createServer(
    {
      headersTimeout: STATS_LIMITS.headersTimeout,
      requestTimeout: STATS_LIMITS.requestTimeout,
      keepAliveTimeout: STATS_LIMITS.keepAliveTimeout,
      // node:http checks the two timeouts above only this often (30 s by default)
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      // a failure here must never become an unhandled rejection in the master
      answer(req, res, source, log).catch((err: unknown) => {
        log.error(`stats listener: cannot answer ${req.url}`, err);
        if (res.headersSent) res.destroy();
        else send(res, 500, 'internal error (see the error log)\n');
      });
    },
  );
  capConnections(server, STATS_LIMITS.maxConnections);
  server.setTimeout(STATS_LIMITS.idleTimeout); // with no 'timeout' listener, node:http destroys the socket
  // a headers or request timeout comes here too: answer 408 as node:http would, then close
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && socket.writable) {
      socket.write('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    }
    socket.destroy();
  });
  return server;
}

/**
 * Serve /healthz, /readyz and /metrics on `address` (HOST:PORT, [IPv6]:PORT,
 * unix:PATH or fd://N). Rejects with a one-line ConfigError when the address
 * cannot be bound (unless `waitIfBusy` and it is only in use).
 */
export async function startStatsServer(
  address: string,
  source: StatsSource,
  log: ErrorLog,
  opts: StatsServerOptions = {},
): Promise<StatsServer> {
  const parsed = parseBind(address, 'stats-bind');
  const label = formatBind(parsed);
  const server = createHttpServer(source, log);
  let closed = false;
  let retry: NodeJS.Timeout | null = null;

  const bound = () => {
    // the master's own timers decide when it exits, not this listener
    server.unref();
    log.info(`Stats listener at: ${parsed.kind === 'tcp' ? 'http://' : ''}${label} (/healthz /readyz /metrics)`);
  };
  const keepTrying = () => {
    retry = setTimeout(() => {
      retry = null;
      if (closed) return;
      listen(server, parsed, label).then(bound, (err: unknown) => {
        if (closed) return;
        if (err instanceof ConfigError && err.message.includes('(EADDRINUSE)')) keepTrying();
        else log.error(`stats listener: ${(err as Error).message}`);
      });
    }, RETRY_MS);
    retry.unref();
  };

  try {
    await listen(server, parsed, label);
    bound();
  } catch (err) {
    if (!(opts.waitIfBusy && err instanceof ConfigError && err.message.includes('(EADDRINUSE)'))) throw err;
    log.warning(
      `${err.message}; trying again every ${RETRY_MS / 1000} s (the previous master holds it until it exits)`,
    );
    keepTrying();
  }

  return {
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      if (!server.listening) return;
      server.close(); // a unix socket path is unlinked by libuv as the server closes
      server.closeAllConnections();
    },
  };
}
