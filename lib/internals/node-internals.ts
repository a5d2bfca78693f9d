// Node's internals that tsgund relies on, in one room.
//
// The guards at the worker boundary sit below node:cluster's public API: the
// IPC channel is read before any listener runs, and trusts the other end.
// Every private field and symbol tsgund reads is named here, each with what
// it is; each is checked when it is first needed, and a missing one stops the
// process with one line naming the Node version and the missing piece, never
// a guard that silently falls away. `engines` in package.json caps Node at
// the majors whose internals were checked (22, 24 and 26).
//   child[Symbol(kChannelHandle)]   a forked child's IPC channel: a Pipe handle
//   pipe.onread(arrayBuffer)        its read callback: the ArrayBuffer holds exactly
//                                   the bytes read (undefined at EOF)
//   pipe.readStop(), readStart()    stop and restart reading it (backpressure)
//   pipe[Symbol(kJSONBuffer)]       the text read since the last newline, not yet parsed
//   pipe[Symbol(kStringDecoder)]    its UTF-8 decoder; Node makes a new one when it is undefined
//   child._handleQueue              an array while a handle sent awaits its acknowledgement
// The listeners (lib/listeners/handles.ts), since node:net has no public API
// for a bound socket that is not listening, nor for listening on a pipe handle:
//   net._createServerHandle(ip, port, 4|6[, undefined, flags])   a bound TCP handle or -errno
//   net._createServerHandle(path, -1, -1)                          a bound unix socket handle
//   net._createServerHandle(null, null, null, fd)                  a handle for an inherited fd
//   server._handle, server._listen2(null, -1, -1, backlog)         listen on a handle already set
// The workers' servers and sockets:
//   node:http's 'listening' listener setupConnectionsTracking     starts headersTimeout and
//                                   requestTimeout for a server that never listens (sticky)
//   socket._handle                  a connection's handle, taken from its socket (sticky
//                                   placement), or the IPC channel's (its fd, for log hand-over)
//   socket._httpMessage, socket.parser   the response a socket serves (null when idle) and
//                                   its HTTP parser (gone once closed or upgraded): the drain
//   res._contentLength              the Content-Length node:http computed for end(body): the
//                                   access log's byte count
//   net.Server.prototype.listen     patched in a worker before the app loads: the listen rule
//                                   (lib/worker/listen-hook.ts)
// A leaf module: it imports only the leaves errors.ts and node-http.ts.
import { spawn } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { UserError } from '../errors.js';
import { http } from '../node-http.js';

/** A guard cannot be installed on this Node: the process must not run without it (one line, exit 1). */
export class MissingInternalError extends UserError {
  constructor(what: string) {
    super(`Node ${process.version} lacks ${what}, which tsgund needs to guard its workers; use Node 22, 24 or 26`, 1);
  }
}

/** The IPC channel's Pipe handle, as far as tsgund uses it. */
export interface ChannelPipe {
  onread: (this: ChannelPipe, buf?: ArrayBuffer) => unknown;
  readStop(): number;
  readStart(): number;
  [key: symbol]: unknown;
}

const symbolNamed = (o: object, name: string): symbol | undefined =>
  Object.getOwnPropertySymbols(o).find((s) => s.description === name);

/** The keys of the channel's unparsed text and of its decoder. */
export interface ChannelKeys {
  jsonBuffer: symbol;
  decoder: symbol;
}

/** The channel's handle and the keys of its unparsed text and decoder; throws MissingInternalError. */
export function channelPipe(child: object): { pipe: ChannelPipe } & ChannelKeys {
  const handleKey = symbolNamed(child, 'kChannelHandle');
  if (!handleKey) throw new MissingInternalError("node:child_process's kChannelHandle (the IPC channel's handle)");
  const pipe = (child as Record<symbol, ChannelPipe | undefined>)[handleKey];
  if (!pipe || typeof pipe.onread !== 'function') throw new MissingInternalError("the IPC channel's onread callback");
  if (typeof pipe.readStop !== 'function' || typeof pipe.readStart !== 'function')
    throw new MissingInternalError("the IPC channel's readStop and readStart");
  const jsonBuffer = symbolNamed(pipe, 'kJSONBuffer');
  if (!jsonBuffer) throw new MissingInternalError("the IPC channel's kJSONBuffer (its unparsed text)");
  const decoder = symbolNamed(pipe, 'kStringDecoder');
  if (!decoder) throw new MissingInternalError("the IPC channel's kStringDecoder");
  return { pipe, jsonBuffer, decoder };
}

/** Node asserts that an acknowledgement answers a handle it sent: one that answers nothing would throw. */
export const hasPendingHandle = (child: object): boolean =>
  Array.isArray((child as { _handleQueue?: unknown })._handleQueue);

/** Whether `_handleQueue` is where Node keeps it (null or an array on a forked child with a channel). */
export function checkHandleQueue(child: object): void {
  const queue = (child as { _handleQueue?: unknown })._handleQueue;
  if (queue !== null && !Array.isArray(queue))
    throw new MissingInternalError("node:child_process's _handleQueue (handles awaiting acknowledgement)");
}

/**
 * At the master's start: whether a child's IPC channel has every internal
 * the guard reads. A child with a channel is spawned (`node --version`, which
 * exits at once; its channel exists from the spawn on) and let go.
 */
export function checkMasterInternals(): void {
  if (typeof (net as unknown as Partial<NetInternals>)._createServerHandle !== 'function')
    throw new MissingInternalError("node:net's _createServerHandle");
  const child = spawn(process.execPath, ['--version'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  child.on('error', () => {}); // it exits on its own; only its channel mattered
  try {
    channelPipe(child);
    checkHandleQueue(child);
  } finally {
    child.disconnect();
    child.unref();
  }
}

/** A libuv stream handle (TCPWrap or PipeWrap), as tsgund uses it. */
export interface NativeHandle {
  fd: number;
  getsockname?(out: Record<string, unknown>): number;
  close(cb?: () => void): void;
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

/** node:net's bound server handle, or -errno. */
export const createServerHandle: NetInternals['_createServerHandle'] = (...args) =>
  (net as unknown as NetInternals)._createServerHandle(...args);

/** Listen `server` on a handle that listen() does not take (a pipe's): set it, and take the inner path. */
export function listenOnRawHandle(server: net.Server, handle: unknown, backlog: number): void {
  const s = server as net.Server & { _handle: unknown; _listen2(a: null, p: number, t: number, b: number): void };
  s._handle = handle;
  s._listen2(null, -1, -1, backlog);
}

/** Start node:http's connection tracking (headersTimeout, requestTimeout) on a server that never listens. */
export function startConnectionsTracking(server: net.Server): void {
  const fn = server.listeners('listening').find((f) => f.name === 'setupConnectionsTracking');
  if (!fn) throw new MissingInternalError("node:http's setupConnectionsTracking (header and request timeouts)");
  fn.call(server);
}

/** A connection's handle, taken from its socket: the socket no longer reads from it. Null once it closed. */
export function takeHandle<H extends { readStop(): number; reading?: boolean }>(socket: net.Socket): H | null {
  const s = socket as unknown as { _handle: H | null };
  const handle = s._handle;
  if (!handle) return null;
  handle.reading = false;
  handle.readStop();
  s._handle = null;
  return handle;
}

/** The descriptor of a socket's (or an IPC channel's) handle, if it has one. */
export const handleFd = (socket: object): number | undefined =>
  (socket as { _handle?: { fd?: number } | null })._handle?.fd;

/**
 * In each worker, before the app loads: whether what its guards need is
 * there. Throws MissingInternalError (the worker fails to boot with that line).
 */
export function checkWorkerInternals(): void {
  if (typeof (net as unknown as Partial<NetInternals>)._createServerHandle !== 'function')
    throw new MissingInternalError("node:net's _createServerHandle");
  if (typeof (net.Server.prototype as unknown as { _listen2?: unknown })._listen2 !== 'function')
    throw new MissingInternalError("net.Server's _listen2");
  const probe = http.createServer();
  if (!probe.listeners('listening').some((f) => f.name === 'setupConnectionsTracking'))
    throw new MissingInternalError("node:http's setupConnectionsTracking (header and request timeouts)");
}

type HttpSocket = { _httpMessage?: ServerResponse | null; parser?: unknown };

/** The response `socket` is serving (node:http's `_httpMessage`), null when it is idle. */
export const responseOf = (socket: object): ServerResponse | null => (socket as HttpSocket)._httpMessage ?? null;

/** Whether node:http still parses requests on `socket` (not closed, not upgraded). */
export const parsesHttp = (socket: object): boolean => Boolean((socket as HttpSocket).parser);

/** The Content-Length node:http computed for a body given to end() (`_contentLength`), if any. */
export const computedContentLength = (res: ServerResponse): unknown =>
  (res as unknown as { _contentLength?: unknown })._contentLength;

type Listen = typeof net.Server.prototype.listen;

/** Patch every net.Server's listen(): `wrap` gets the original and returns its replacement (the listen rule). */
export function patchServerListen(wrap: (original: Listen) => Listen): void {
  net.Server.prototype.listen = wrap(net.Server.prototype.listen);
}
