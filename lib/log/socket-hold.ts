import type { Socket } from 'node:net';

const HELD = Symbol('tsgund.held');
type Holdable = Socket & { [HELD]?: boolean };

let wrapped = false;

/**
 * node:http's res.end() corks the socket and then forces it fully uncorked
 * (`corked = 1; uncork()`), so a plain cork() cannot keep end()'s bytes in
 * the process. Socket's uncork() is wrapped once, on the prototype, to do
 * nothing for a held socket; release() uncorks it for real.
 */
function wrapUncork(): void {
  if (wrapped) return;
  wrapped = true;
  // fetched here, not at import: only a worker that logs access holds sockets
  const proto = process.getBuiltinModule('node:net').Socket.prototype as Holdable;
  const { uncork } = proto;
  proto.uncork = function (this: Holdable) {
    if (this[HELD] !== true) uncork.call(this);
  };
}

/**
 * Keeps whatever is written to `socket` from now on (a response's last bytes
 * included) in its write buffer, in the process, until release().
 */
export function hold(socket: Socket): void {
  wrapUncork();
  if ((socket as Holdable)[HELD] === true) return;
  (socket as Holdable)[HELD] = true;
  socket.cork();
}

/** Hands everything held to the kernel (if the socket is still open) and uncorks it fully. */
export function release(socket: Socket): void {
  (socket as Holdable)[HELD] = false;
  while (socket.writableCorked > 0) socket.uncork();
}
