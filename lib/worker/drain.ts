import type { ServerResponse } from 'node:http';
import type { Http2Session } from 'node:http2';
import type { Server, Socket } from 'node:net';
import { parsesHttp, responseOf } from '../internals/node-internals.js';
import { stopAccepting } from '../listeners/handles.js';

/**
 * tls.Server (and https.Server) by its addContext method: `instanceof` would
 * need node:tls, 15 ms of every plain-HTTP worker's boot.
 */
const isTlsServer = (server: Server): boolean => typeof (server as { addContext?: unknown }).addContext === 'function';

/** A connection of an HTTP server: what it serves is read through internals/node-internals.ts. */
type HttpSocket = Socket;

interface Quiet {
  since: number;
  bytesRead: number;
}

// An idle keep-alive connection is closed during a drain only after it has
// been quiet this long: closing one the moment a client reuses it would fail
// that request, and a busy client sends its next request within microseconds.
const IDLE_GRACE_MS = 250;
// A closed idle connection whose client does not close its side in this long
// (one that ignores the FIN, or never reads) is destroyed: an open half would
// keep the worker until gracefulTimeout.
const HALF_CLOSED_MS = 500;
const SWEEP_MS = 50;
// An HTTP/2 session is told to go away twice, as RFC 9113 (section 6.8) advises:
// first with the highest stream id, so that the client opens no more streams
// on it, and this long after with the last stream received. nghttp2 under
// Node has no shutdown notice (nghttp2_submit_shutdown_notice is not exposed),
// so streams that crossed the first GOAWAY are not processed: the second
// reports them unprocessed (REFUSED_STREAM), which clients may retry safely.
const GOAWAY_NOTICE_MS = 1000;
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * Lets a worker stop gracefully: stop accepting, answer in-flight requests
 * with Connection: close, close idle keep-alive sockets, and report when the
 * last connection is gone. It watches connections, not requests, so serving
 * costs nothing extra until a drain starts. Connections that are not idle
 * HTTP (upgraded WebSockets, raw net.Server sockets, streams) are left to the
 * app, which is told to close them; the master's gracefulTimeout bounds them.
 */
export class Drainer {
  private readonly conns = new Set<HttpSocket>();
  /** HTTP/2 sessions, whose sockets are in `conns` as well. */
  private readonly sessions = new Set<Http2Session>();
  private readonly quiet = new Map<HttpSocket, Quiet>();
  /** Idle connections closed on our side, by when. */
  private readonly ended = new Map<HttpSocket, number>();
  private draining = false;
  private onIdle: (() => void) | null = null;
  /** Connections accepted so far (for the heartbeat: how the kernel spread them over workers). */
  accepted = 0;

  // The connection path at the cost of a bare server: one listener per server
  // and one 'close' listener per socket, both functions made once
  // (socket.once() with a closure would allocate a wrapper and a closure for
  // every connection).
  private readonly onConnection: (socket: HttpSocket) => void;
  private readonly onClose: (this: HttpSocket) => void;

  /** `servers` are watched for connections; `accepting` are closed when the drain starts. */
  constructor(
    servers: Server[],
    private readonly accepting: Server[] = servers,
  ) {
    const forget = (socket: HttpSocket): void => {
      this.conns.delete(socket);
      if (this.draining) {
        this.quiet.delete(socket);
        this.ended.delete(socket);
        this.checkDone();
      }
    };
    this.onClose = function (this: HttpSocket) {
      forget(this);
    };
    this.onConnection = (socket) => {
      this.accepted++;
      this.conns.add(socket);
      socket.on('close', this.onClose);
    };
    for (const server of servers) {
      // a TLS server's HTTP parser lives on the TLS socket, not the TCP one
      server.on(isTlsServer(server) ? 'secureConnection' : 'connection', this.onConnection);
      // http2 servers (tsgund's and an app's) emit one per HTTP/2 connection
      server.on('session', (session: Http2Session) => this.onSession(session));
    }
  }

  private onSession(session: Http2Session): void {
    this.sessions.add(session);
    session.once('close', () => this.sessions.delete(session));
    // a session that starts while draining (a connection accepted just before) is told at once
    if (this.draining) this.goAway(session);
  }

  /** The two GOAWAYs; close() sends the second (with the last stream received) and ends the session once its streams have. */
  private goAway(session: Http2Session): void {
    if (session.closed || session.destroyed) return;
    session.goaway(0, MAX_STREAM_ID);
    setTimeout(() => {
      if (!session.closed && !session.destroyed) session.close();
    }, GOAWAY_NOTICE_MS).unref();
  }

  /** A server that accepts for a watched one from now on (with reusePort, a slot adopted as a guest). */
  addAcceptor(server: Server): void {
    this.accepting.push(server);
  }

  /** Connections open now. */
  get open(): number {
    return this.conns.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Begin a graceful stop; `done` runs once no connection is left. */
  start(done: () => void): void {
    if (this.draining) return;
    this.draining = true;
    this.onIdle = done;
    for (const server of this.accepting) stopAccepting(server);
    for (const socket of this.conns) {
      const res = responseOf(socket);
      if (res && !res.headersSent) res.shouldKeepAlive = false;
    }
    for (const session of this.sessions) this.goAway(session);
    const sweep = setInterval(() => this.closeIdle(), SWEEP_MS);
    sweep.unref();
    this.closeIdle();
  }

  /** Requests that arrive during a drain are answered with Connection: close. */
  onRequest(res: ServerResponse): void {
    if (this.draining) res.shouldKeepAlive = false;
  }

  private closeIdle(): void {
    const now = performance.now();
    const quietLong: HttpSocket[] = [];
    for (const socket of this.conns) {
      const endedAt = this.ended.get(socket);
      if (endedAt !== undefined) {
        if (now - endedAt >= HALF_CLOSED_MS) socket.destroy();
        continue;
      }
      const seen = this.quiet.get(socket);
      if (responseOf(socket) || !parsesHttp(socket)) this.quiet.delete(socket);
      else if (!seen || seen.bytesRead !== socket.bytesRead) {
        // newly idle, or bytes of a next request arrived: start (again) to wait
        this.quiet.set(socket, { since: now, bytesRead: socket.bytesRead });
      } else if (now - seen.since >= IDLE_GRACE_MS) {
        quietLong.push(socket);
      }
    }
    // Timers run before the loop reads sockets: in a worker whose loop stalled,
    // a request that arrived meanwhile is not read yet and the connection only
    // looks idle. Decide after this turn's reads (setImmediate runs after them).
    if (quietLong.length) setImmediate(() => this.closeQuiet(quietLong));
    this.checkDone();
  }

  /** Close the connections that stayed quiet through this turn's reads. */
  private closeQuiet(sockets: HttpSocket[]): void {
    const now = performance.now();
    for (const socket of sockets) {
      const seen = this.quiet.get(socket);
      if (!seen || socket.destroyed || responseOf(socket) || seen.bytesRead !== socket.bytesRead) continue;
      this.quiet.delete(socket);
      this.ended.set(socket, now);
      socket.end();
    }
  }

  private checkDone(): void {
    if (this.draining && this.conns.size === 0 && this.onIdle) {
      const done = this.onIdle;
      this.onIdle = null;
      done();
    }
  }
}
