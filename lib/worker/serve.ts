import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type https from 'node:https';
import { http } from '../node-http.js';
import net from 'node:net';
import type { Settings } from '../config/types.js';
import { listenOnHandle } from '../listeners/handles.js';
import type { Bind } from './binds.js';
import type { H2Settings } from './h2-server.js';

type Limits = Pick<
  Settings,
  | 'keepAlive'
  | 'limitRequestLine'
  | 'limitRequestFields'
  | 'limitRequestFieldSize'
  | 'headersTimeout'
  | 'requestTimeout'
> &
  H2Settings & { http2: boolean };

/**
 * The server tsgund creates around a request listener, with the limits and
 * timeouts of the settings. node:https (and TLS) is loaded only for HTTPS,
 * node:http2 only with the http2 setting; `warn` tells why an app that
 * cannot serve HTTP/2 gets HTTP/1.1 only.
 */
export async function createServer(
  settings: Limits,
  tls: https.ServerOptions | null,
  listener: unknown = null,
  warn: (line: string) => void = () => {},
): Promise<net.Server> {
  if (settings.http2) {
    const h2 = await import('./h2-server.js');
    if (!h2.overridesHttp1Prototypes(listener)) return h2.createH2Server(settings, tls);
    warn(
      "http2: the app (Express) sets its own request prototype over node:http's, which HTTP/2 requests crash; serving it over HTTP/1.1 only",
    );
  }
  return createHttp1Server(settings, tls);
}

async function createHttp1Server(settings: Limits, tls: https.ServerOptions | null): Promise<Server> {
  const options: ServerOptions = {
    maxHeaderSize: settings.limitRequestFieldSize,
    headersTimeout: settings.headersTimeout * 1000,
    // Node refuses a headersTimeout above a non-zero requestTimeout
    requestTimeout: settings.requestTimeout ? Math.max(settings.requestTimeout, settings.headersTimeout) * 1000 : 0,
    keepAliveTimeout: settings.keepAlive * 1000,
  };
  // The handshake counts against headersTimeout: Node's own 120 s let silent connections hold every slot.
  const handshake = { handshakeTimeout: settings.headersTimeout * 1000 };
  const server = tls
    ? (await import('node:https')).createServer({ ...tls, ...handshake, ...options })
    : http.createServer(options);
  // one more than the limit, so that a request over it can be told apart and refused
  if (settings.limitRequestFields) server.maxHeadersCount = settings.limitRequestFields + 1;
  return server;
}

/**
 * How often node:http must look for connections past headersTimeout or
 * requestTimeout so that each fires within a second of its value: it checks
 * them only on this interval, 30 s by default, so a 10 s headersTimeout let
 * slow-header connections live 40 s.
 */
export function checkingIntervalMs(headersTimeoutMs: number, requestTimeoutMs: number): number {
  const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((ms) => ms > 0));
  // an eighth leaves most of the second for a busy worker to reach the expired connections
  return Math.min(1000, Math.max(100, Math.floor(shortest / 8)));
}

/**
 * Make a node:http (or https) server, tsgund's or the app's, check its own
 * timeouts often enough. node:http starts the check on 'listening', with the
 * interval then set; an app's shorter one is kept.
 */
export function checkTimeoutsOften(server: net.Server): void {
  const s = server as Partial<Pick<Server, 'headersTimeout' | 'requestTimeout'>> & {
    connectionsCheckingInterval?: number;
  };
  if (typeof s.headersTimeout !== 'number') return; // not node:http: http2 and net servers have no such check
  const ms = checkingIntervalMs(s.headersTimeout, s.requestTimeout ?? 0);
  if (!(typeof s.connectionsCheckingInterval === 'number' && s.connectionsCheckingInterval <= ms))
    s.connectionsCheckingInterval = ms;
}

/**
 * Refuses a request over limitRequestLine (414) or limitRequestFields (431);
 * Node itself answers 431 past maxHeaderSize. Returns true if it answered.
 */
export function refuseOverLimits(settings: Limits, req: IncomingMessage, res: ServerResponse): boolean {
  let status = 0;
  // "GET /path HTTP/1.1": method, two spaces, target, and 8 bytes of version
  if (settings.limitRequestLine && req.method!.length + req.url!.length + 10 > settings.limitRequestLine) status = 414;
  else if (settings.limitRequestFields && req.rawHeaders.length > settings.limitRequestFields * 2) status = 431;
  if (!status) return false;
  // HTTP/2 forbids a Connection header
  if (req.httpVersionMajor === 2) res.writeHead(status, { 'content-type': 'text/plain' });
  else {
    res.shouldKeepAlive = false;
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
  }
  res.end(`${http.STATUS_CODES[status]}\n`);
  return true;
}

/**
 * Listen `server` on every bind: on the first one itself, so that its own
 * 'listening', timeouts and connection checks work; on the others through a
 * plain acceptor that hands each connection to it, as node:http does for one
 * handed over with emit('connection'). Returns the servers that accept, one
 * per bind, not yet listening.
 */
export function acceptorsFor(server: net.Server, binds: Bind[], maxConnections: number): net.Server[] {
  const acceptors = binds
    .slice(1)
    .map(() =>
      net.createServer(
        { allowHalfOpen: (server as { allowHalfOpen?: boolean }).allowHalfOpen, noDelay: true },
        (socket) => server.emit('connection', socket),
      ),
    );
  const all = [server, ...acceptors];
  for (const s of all) s.maxConnections = maxConnections;
  return all;
}

export async function listenAll(accepting: net.Server[], binds: Bind[], backlog: number): Promise<void> {
  await Promise.all(accepting.map((s, i) => listenOnHandle(s, binds[i]!.handle, backlog)));
}

/** The address a bound socket handle has (null for one that is not TCP). */
export function socketAddress(handle: unknown): net.AddressInfo | null {
  const out: Record<string, unknown> = {};
  const h = handle as { getsockname?(out: Record<string, unknown>): number };
  if (h.getsockname?.(out) !== 0 || typeof out.port !== 'number') return null;
  return { address: String(out.address), family: String(out.family), port: out.port };
}

/**
 * Serve a server that never listens: with sticky placement the master
 * accepts and sends it its connections. It still needs node:http's
 * connection tracking, which enforces headersTimeout and requestTimeout and
 * which Node starts from an internal 'listening' listener,
 * setupConnectionsTracking: run just that one (emitting 'listening' would
 * tell the app it listens). And an app's listen callback that asks for
 * server.address(), as many log the port, gets the bind's.
 */
export function serveFromMaster(server: net.Server, address: net.AddressInfo | null): void {
  for (const fn of server.listeners('listening')) if (fn.name === 'setupConnectionsTracking') fn.call(server);
  if (address) server.address = () => address;
}
