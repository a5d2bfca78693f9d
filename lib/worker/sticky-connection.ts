import net from 'node:net';

/**
 * Sticky placement: a connection the master accepted and chose this worker
 * for. It goes to the served server, as an acceptor's connections do, and the
 * drain counts it like any other; with no server to serve it (booting,
 * draining) or a malformed head it is closed.
 */
export function takeConnection(handle: unknown, head: unknown, server: net.Server | null): void {
  // a connection the master read from comes as its bare TCP handle (see lib/master/placement/sticky-placement.ts)
  const socket =
    handle instanceof net.Socket
      ? handle
      : (handle as object | null)?.constructor?.name === 'TCP'
        ? new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts)
        : null;
  if (!socket) return;
  if (!server || (head !== undefined && typeof head !== 'string')) {
    socket.destroy();
    return;
  }
  // what the master read of it (a trusted proxy's request head) comes first, as if just received
  if (head) socket.unshift(Buffer.from(head, 'base64'));
  server.emit('connection', socket);
}
