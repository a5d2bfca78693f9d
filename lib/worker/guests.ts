import net from 'node:net';
import type { ErrorLog } from '../log/error-line.js';
import { type NativeHandle, listenOnHandle, stopAccepting } from '../listeners/handles.js';
import type { Drainer } from './drain.js';

/**
 * With reusePort: the other slots' sockets this worker accepts on as a guest
 * (while that slot has no ready worker of its own), by `slot:bind index`.
 * Their connections go to the served server, as those of a second bind do.
 */
export class Guests {
  private readonly acceptors = new Map<string, net.Server>();

  constructor(
    private readonly log: ErrorLog,
    private readonly limits: { workerConnections: number; backlog: number },
  ) {}

  /** Accept on `handle` for `server` until released; with no server to serve (booting, draining) just close it. */
  adopt(slot: number, index: number, handle: NativeHandle, server: net.Server | null, drainer: Drainer | null): void {
    const key = `${slot}:${index}`;
    if (!server || !drainer || this.acceptors.has(key)) {
      handle.close(); // only this process's descriptor: the master keeps the socket
      return;
    }
    const acceptor = net.createServer(
      { allowHalfOpen: (server as { allowHalfOpen?: boolean }).allowHalfOpen, noDelay: true },
      (socket) => server.emit('connection', socket),
    );
    acceptor.maxConnections = this.limits.workerConnections;
    drainer.addAcceptor(acceptor);
    this.acceptors.set(key, acceptor);
    listenOnHandle(acceptor, handle, this.limits.backlog).catch((err: unknown) => {
      this.log.error(`cannot accept on slot ${slot} as a guest`, err);
      this.acceptors.delete(key);
    });
  }

  release(slot: number): void {
    for (const [key, acceptor] of this.acceptors) {
      if (!key.startsWith(`${slot}:`)) continue;
      this.acceptors.delete(key);
      // closes this process's descriptor only; the socket stays open and listening in the master
      stopAccepting(acceptor);
    }
  }
}
