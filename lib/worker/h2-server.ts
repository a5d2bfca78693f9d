import type { Server as Http1Server } from 'node:http';
import type https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import type { Settings } from '../config/types.js';
import { http } from '../node-http.js';
import { gateResets } from './reset-gate.js';
import { checkTimeoutsOften, serveFromMaster } from './serve.js';

export type H2Settings = Pick<
  Settings,
  | 'keepAlive'
  | 'limitRequestFields'
  | 'limitRequestFieldSize'
  | 'headersTimeout'
  | 'requestTimeout'
  | 'http2MaxConcurrentStreams'
  | 'http2StreamResetBurst'
  | 'http2StreamResetRate'
  | 'http2MaxSessionInvalidFrames'
  | 'http2MaxControlFrames'
>;

/** The client connection preface of RFC 9113, section 3.4. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** What the session timer sends a flooding client (RFC 9113's ENHANCE_YOUR_CALM). */
const ENHANCE_YOUR_CALM = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM;
// pseudo-header fields (:method, :scheme, :authority, :path) come on top of the request's own
const PSEUDO_HEADERS = 4;
// HPACK counts 32 bytes of overhead per field (RFC 7541, section 4.1)
const HPACK_FIELD_OVERHEAD = 32;

/**
 * Node's http2 options from the settings: the abuse limits, and header lists
 * no larger than the HTTP/1.1 limits admit. Extended CONNECT stays off: ws
 * and socket.io handle only an HTTP/1.1 Upgrade.
 */
export function h2Options(settings: H2Settings): http2.ServerOptions {
  const pairs = settings.limitRequestFields ? settings.limitRequestFields + PSEUDO_HEADERS : 128;
  return {
    maxSessionInvalidFrames: settings.http2MaxSessionInvalidFrames,
    streamResetBurst: settings.http2StreamResetBurst,
    streamResetRate: settings.http2StreamResetRate,
    maxHeaderListPairs: pairs,
    settings: {
      maxConcurrentStreams: settings.http2MaxConcurrentStreams,
      maxHeaderListSize: settings.limitRequestFieldSize + HPACK_FIELD_OVERHEAD * pairs,
      enableConnectProtocol: false,
    },
  } as http2.ServerOptions;
}

/** The HTTP/1.1 options of a server that also answers HTTP/1.1 (see serve.ts's createServer). */
function http1Options(settings: H2Settings) {
  return {
    maxHeaderSize: settings.limitRequestFieldSize,
    headersTimeout: settings.headersTimeout * 1000,
    requestTimeout: settings.requestTimeout ? Math.max(settings.requestTimeout, settings.headersTimeout) * 1000 : 0,
    keepAliveTimeout: settings.keepAlive * 1000,
  };
}

/**
 * Express 5 puts its own request and response prototypes over node:http's
 * (app.request inherits http.IncomingMessage), and the first HTTP/2 request
 * through them crashes the process. That inheritance is what makes an app
 * unfit for the compatibility API, so that is what is checked.
 */
export function overridesHttp1Prototypes(listener: unknown): boolean {
  const app = listener as { request?: unknown; response?: unknown };
  if (typeof listener !== 'function' || typeof app.request !== 'object' || app.request === null) return false;
  return app.request instanceof http.IncomingMessage;
}

/**
 * Per session: the first HEADERS frame within `headersMs` of the session's
 * start (`startedAt`, earlier when the preface was sniffed), and at most
 * `maxControl` SETTINGS and PING frames a second. Node has neither.
 */
export function guardSession(
  session: http2.ServerHttp2Session,
  headersMs: number,
  maxControl: number,
  startedAt = performance.now(),
): void {
  let timer: NodeJS.Timeout | null = null;
  if (headersMs > 0) {
    timer = setTimeout(() => session.destroy(), Math.max(1, headersMs - (performance.now() - startedAt)));
    timer.unref();
    session.once('stream', () => clearTimeout(timer!));
    session.once('close', () => clearTimeout(timer!));
  }
  let windowStart = 0;
  let frames = 0;
  const count = (): void => {
    const now = performance.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      frames = 0;
    }
    if (++frames > maxControl && !session.destroyed) {
      session.goaway(ENHANCE_YOUR_CALM);
      session.destroy();
    }
  };
  session.on('remoteSettings', count);
  session.on('ping', count);
}

/**
 * HTTP/1.1 and h2c with prior knowledge on one cleartext port: each
 * connection is handed to one or the other by its first bytes, which are
 * the 24-byte preface for h2c. Reading stops at the first byte that differs
 * from the preface (the G of GET), so HTTP/1.1 waits on nothing; the sniff
 * itself ends at headersTimeout, and the time it took counts against the h2
 * session's. An `Upgrade: h2c` request is HTTP/1.1 and answered as such.
 * 'request' and 'session' of both are emitted by this server.
 */
export class CleartextH2Server extends net.Server {
  private sniffedAt = 0;

  constructor(
    readonly http1: Http1Server,
    readonly h2: http2.Http2Server,
    private readonly settings: H2Settings,
  ) {
    super({ noDelay: true });
    // the HTTP/1.1 server never listens: start its timeout checks as a listening one would
    checkTimeoutsOften(http1);
    serveFromMaster(http1, null);
    this.on('connection', (socket: net.Socket) => this.sniff(socket));
    const relay = (req: unknown, res: unknown) => this.emit('request', req, res);
    http1.on('request', relay);
    h2.on('request', relay);
    h2.on('session', (session: http2.ServerHttp2Session) => {
      guardSession(session, settings.headersTimeout * 1000, settings.http2MaxControlFrames, this.sniffedAt);
      this.emit('session', session);
    });
  }

  private sniff(socket: net.Socket): void {
    const startedAt = performance.now();
    const ms = this.settings.headersTimeout * 1000;
    const timer = ms > 0 ? setTimeout(() => socket.destroy(), ms) : null;
    timer?.unref();
    let got: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = got.length ? Buffer.concat([got, chunk]) : chunk;
      const n = Math.min(got.length, PREFACE.length);
      const isH2 = got.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && n < PREFACE.length) return;
      if (timer) clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      socket.unshift(got);
      if (isH2) {
        this.sniffedAt = startedAt;
        this.h2.emit('connection', socket);
      } else {
        this.http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }
}

/**
 * The HTTP/2 server tsgund creates: over TLS one that offers h2 and
 * http/1.1 by ALPN, cleartext a CleartextH2Server.
 */
export function createH2Server(settings: H2Settings, tls: https.ServerOptions | null): net.Server {
  const h1 = http1Options(settings);
  if (tls) {
    // as for HTTPS/1.1 (serve.ts): the handshake counts against headersTimeout
    const handshake = { handshakeTimeout: settings.headersTimeout * 1000 };
    const server = http2.createSecureServer({ ...tls, ...handshake, ...h1, ...h2Options(settings), allowHTTP1: true });
    server.on('session', (session: http2.ServerHttp2Session) =>
      guardSession(session, settings.headersTimeout * 1000, settings.http2MaxControlFrames),
    );
    if (settings.limitRequestFields)
      (server as { maxHeadersCount?: number }).maxHeadersCount = settings.limitRequestFields + 1;
    gateResets(server, settings.http2StreamResetBurst, settings.http2StreamResetRate);
    return server;
  }
  const http1 = http.createServer(h1);
  if (settings.limitRequestFields) http1.maxHeadersCount = settings.limitRequestFields + 1;
  const h2 = http2.createServer(h2Options(settings));
  gateResets(h2, settings.http2StreamResetBurst, settings.http2StreamResetRate);
  return new CleartextH2Server(http1, h2, settings);
}
