// The master binds its sockets and keeps them for its whole life, while the
// workers accept on them. node:net has no public API for a socket that is bound
// but not listening, nor for listening on a handle received over IPC when it is
// a pipe, so this module uses these Node internals (the others are
// node:http's `socket._httpMessage`, read by lib/worker/drain.ts, and, for
// sticky placement, a socket's `_handle` in lib/master/placement/sticky-placement.ts and
// node:http's setupConnectionsTracking listener in lib/worker/serve.ts):
//   net._createServerHandle(ip, port, 4|6)      bound TCP handle or -errno
//   net._createServerHandle(ip, port, 4|6, undefined, UV_TCP_REUSEPORT)
//                                               the same with SO_REUSEPORT set before bind
//   net._createServerHandle(path, -1, -1)       bound unix socket handle
//   net._createServerHandle(null, null, null, fd)  handle for an inherited fd
//   server._listen2(...)                        listen on a handle already set
// Checked on Node 22, 24 and 26 by the end-to-end suite.

import { lookup } from 'node:dns/promises';
import { chmodSync, lchownSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { ConfigError, errnoOf, oneLine } from '../errors.js';
import { UnsafePathError, checkSocketDirectory } from '../trust/pinned-path.js';
import { formatBind, type BindAddress } from './address.js';
import { freeSocketPath } from './unix-path.js';

/** The libuv stream handle behind a net.Server (TCPWrap or PipeWrap). */
export interface NativeHandle {
  fd: number;
  getsockname?(out: Record<string, unknown>): number;
  close(cb?: () => void): void;
}

export interface Listener {
  /** The bind value as configured, canonical form: the key for hand-over. */
  label: string;
  address: BindAddress;
  handle: NativeHandle;
  /** A unix socket path this listener created and must unlink at final shutdown. */
  unixPath: string | null;
  /** A TCP socket bound with SO_REUSEPORT: sibling sockets can bind its address (one per worker slot). */
  reusePort?: boolean;
}

interface NetInternals {
  _createServerHandle(
    address: string | null,
    port: number | null,
    addressType: number | null,
    fd?: number,
    flags?: number,
  ): NativeHandle | number;
}
const internals = net as unknown as NetInternals;

// libuv's flag for uv_tcp_bind (1.49+, Node 22.12+): set SO_REUSEPORT before bind.
const UV_TCP_REUSEPORT = 2;

const errName = (code: number): string => {
  try {
    return getSystemErrorName(code);
  } catch {
    return `errno ${code}`;
  }
};

const WHY: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  EBADF: 'not an open file descriptor',
  EINVAL: 'not a socket',
  ENOTSOCK: 'not a socket',
  ENOENT: 'directory does not exist',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
};

/** "address already in use (EADDRINUSE)" for an errno name or a negative libuv code. */
export function describeBindError(code: string | number): string {
  const name = typeof code === 'number' ? errName(code) : code;
  return `${WHY[name] ?? name} (${name})`;
}

function bindError(label: string, code: string | number): ConfigError {
  return new ConfigError(`cannot bind ${label}: ${describeBindError(code)}`);
}

/** The mode and group of a unix socket tsgund binds (its owner is the master's user); no gid: unchanged. */
export interface UnixSocketAccess {
  mode: number;
  gid?: number;
}

/**
 * Bind a unix socket where no other user can swap the path: every directory
 * on the way is checked as for log files (lib/trust/pinned-path.ts), and the
 * socket's own directory must be writable by no one else, unless it is
 * sticky (/tmp), where only root could rename the socket root creates.
 * bind(2) creates the file with the umask and no fchmod or fchown on a
 * socket's descriptor reaches it, so mode and owner are set through the
 * path, which the checks pin: the mode first, then the group.
 */
async function bindUnix(address: BindAddress & { kind: 'unix' }, label: string, access?: UnixSocketAccess) {
  try {
    checkSocketDirectory(address.path);
  } catch (err) {
    throw new ConfigError(`cannot bind ${label}: ${err instanceof UnsafePathError ? err.message : oneLine(err)}`);
  }
  const busy = await freeSocketPath(address.path);
  if (busy) throw bindError(label, busy);
  const handle = internals._createServerHandle(address.path, -1, -1);
  if (typeof handle === 'number') throw bindError(label, handle);
  if (access) {
    try {
      chmodSync(address.path, access.mode);
      if (access.gid !== undefined) lchownSync(address.path, -1, access.gid);
    } catch (err) {
      handle.close(); // libuv unlinks the path it bound
      throw new ConfigError(`cannot bind ${label}: cannot set its mode or owner (${errnoOf(err)})`);
    }
  }
  return handle;
}

/** Create a bound, not yet listening socket for one address (TCP with SO_REUSEPORT if `reusePort`). */
export async function bindListener(
  address: BindAddress,
  reusePort = false,
  unix?: UnixSocketAccess,
): Promise<Listener> {
  const label = formatBind(address);
  switch (address.kind) {
    case 'fd':
      return adoptFd(address.fd, label);
    case 'unix':
      return { label, address, handle: await bindUnix(address, label, unix), unixPath: address.path };
    case 'tcp': {
      let ip = address.host;
      let family = net.isIP(ip);
      if (family === 0) {
        try {
          ({ address: ip, family } = await lookup(address.host));
        } catch {
          throw new ConfigError(`cannot bind ${label}: host '${address.host}' does not resolve`);
        }
      }
      const { handle, port } = bindTcp(label, ip, address.port, family, reusePort);
      return { label, address: { ...address, port }, handle, unixPath: null, reusePort };
    }
  }
}

function bindTcp(
  label: string,
  ip: string,
  port: number,
  family: number,
  reusePort: boolean,
): { handle: NativeHandle; port: number } {
  const handle = internals._createServerHandle(ip, port, family, undefined, reusePort ? UV_TCP_REUSEPORT : 0);
  if (typeof handle === 'number') throw bindError(label, handle);
  // libuv defers EADDRINUSE from bind() to listen(); getsockname reports it now
  const out: Record<string, unknown> = {};
  const err = handle.getsockname?.(out) ?? 0;
  if (err !== 0) {
    handle.close();
    throw bindError(label, err);
  }
  return { handle, port: Number(out.port) };
}

/**
 * Another socket on the address of a listener bound with SO_REUSEPORT: the
 * kernel joins it to the listener's group when a worker listens on it, and
 * then spreads new connections over the group's sockets by a hash of the
 * connection's addresses.
 */
export function bindSibling(listener: Listener): NativeHandle {
  const out: Record<string, unknown> = {};
  const err = listener.handle.getsockname?.(out) ?? 0;
  if (err !== 0) throw bindError(listener.label, err);
  const family = out.family === 'IPv6' ? 6 : 4;
  return bindTcp(listener.label, String(out.address), Number(out.port), family, true).handle;
}

/** Wrap a socket inherited from a parent process (USR2, systemd, fd://). */
export function adoptFd(fd: number, label: string): Listener {
  return { label, address: { kind: 'fd', fd }, handle: adoptHandle(fd, label), unixPath: null };
}

export function adoptHandle(fd: number, label: string): NativeHandle {
  const handle = internals._createServerHandle(null, null, null, fd);
  if (typeof handle === 'number') throw bindError(label, handle);
  return handle;
}

/** Worker side: start accepting on a handle received from the master. */
export function listenOnHandle(server: net.Server, handle: unknown, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
    const s = server as net.Server & {
      _handle: unknown;
      _listen2(a: null, p: number, t: number, backlog: number): void;
    };
    // A TCP handle goes through the public listen(handle); listen() rejects a
    // pipe handle, so set it as the server's handle and take the inner path.
    if ((handle as object).constructor?.name === 'TCP') server.listen(handle as object, backlog);
    else {
      s._handle = handle;
      s._listen2(null, -1, -1, backlog);
    }
  });
}

/** Stop accepting on a worker's server without touching its connections. */
export function stopAccepting(server: net.Server): void {
  // http.Server#close would also close idle keep-alive sockets at once, racing
  // with requests already on the wire; net's close only closes the listener.
  net.Server.prototype.close.call(server);
}

export function unlinkUnixSocket(listener: Listener): void {
  if (!listener.unixPath) return;
  try {
    if (lstatSync(listener.unixPath).isSocket()) unlinkSync(listener.unixPath);
  } catch {
    // already gone
  }
}
