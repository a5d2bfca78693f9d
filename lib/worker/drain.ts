import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { stopAccepting } from '../listeners/handles.js';

interface ConnState {
  inflight: number;
  idleSince: number;
  bytesAtIdle: number;
}

// An idle keep-alive connection is closed during a drain only after it has
// been quiet this long: closing one the moment a client reuses it would fail
// that request, and a busy client sends its next request within microseconds.
const IDLE_GRACE_MS = 250;
const SWEEP_MS = 50;

/**
 * Tracks connections and in-flight requests so that a worker can stop
 * gracefully: stop accepting, answer in-flight requests with Connection: close,
 * close idle keep-alive sockets, and report when the last connection is gone.
 */
export class Drainer {
  private readonly conns = new Map<Socket, ConnState>();
  private readonly pending = new Set<ServerResponse>();
  private draining = false;
  private onIdle: (() => void) | null = null;

  constructor(private readonly servers: Server[]) {
    for (const server of servers) {
      server.on('connection', (socket: Socket) => {
        this.conns.set(socket, { inflight: 0, idleSince: Date.now(), bytesAtIdle: 0 });
        socket.once('close', () => {
          this.conns.delete(socket);
          this.checkDone();
        });
      });
    }
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Call at the start of every request; the response is watched until it ends. */
  track(req: IncomingMessage, res: ServerResponse): void {
    const state = this.conns.get(req.socket);
    if (state) state.inflight++;
    this.pending.add(res);
    if (this.draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      this.pending.delete(res);
      if (state) {
        state.inflight--;
        state.idleSince = Date.now();
        state.bytesAtIdle = req.socket.bytesRead;
      }
    });
  }

  /** Begin a graceful stop; `done` runs once no connection is left. */
  start(done: () => void): void {
    if (this.draining) return;
    this.draining = true;
    this.onIdle = done;
    for (const server of this.servers) stopAccepting(server);
    for (const res of this.pending) if (!res.headersSent) res.shouldKeepAlive = false;
    const sweep = setInterval(() => this.closeIdle(), SWEEP_MS);
    sweep.unref();
    this.closeIdle();
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [socket, state] of this.conns) {
      const quiet = state.inflight === 0 && socket.bytesRead === state.bytesAtIdle;
      if (quiet && now - state.idleSince >= IDLE_GRACE_MS) socket.end();
      else if (state.inflight === 0 && !quiet) {
        // bytes arrived but no request parsed yet: a request is on its way
        state.idleSince = now;
        state.bytesAtIdle = socket.bytesRead;
      }
    }
    this.checkDone();
  }

  private checkDone(): void {
    if (this.draining && this.conns.size === 0 && this.onIdle) {
      const done = this.onIdle;
      this.onIdle = null;
      done();
    }
  }
}
