import type { Server } from 'node:net';
import { patchServerListen } from '../internals/node-internals.js';
// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { dirname, resolve } = process.getBuiltinModule('node:path');
const { fileURLToPath } = process.getBuiltinModule('node:url');

/** Where an app asked to listen: a TCP port, a unix socket path, a file descriptor or a handle. */
export type ListenTarget = { port: number } | { path: string } | { fd: number } | { handle: true };

type ListenArgs = unknown[];

/** Read what a `server.listen(...)` call asks for, as node:net would. */
export function listenTarget(args: ListenArgs): ListenTarget {
  const first = args[0];
  if (first === undefined || first === null || typeof first === 'function') return { port: 0 };
  if (typeof first === 'number') return { port: first };
  if (typeof first === 'string') return /^\d+$/.test(first) ? { port: Number(first) } : { path: resolve(first) };
  if (typeof first !== 'object') return { port: 0 };
  const o = first as Record<string, unknown>;
  if (typeof o.path === 'string' && o.path) return { path: resolve(o.path) };
  if ('port' in o) {
    const port = Number(o.port ?? 0);
    return { port: Number.isInteger(port) ? port : -1 };
  }
  // a native handle (a TCP or Pipe wrap: it has fd too), { handle }, a server with _handle, or { fd }
  if ('_handle' in o || 'handle' in o || typeof o.listen === 'function') return { handle: true };
  if ('fd' in o) return { fd: Number(o.fd) };
  return { port: 0 };
}

export function describeTarget(t: ListenTarget): string {
  if ('port' in t) return `port ${t.port}`;
  if ('path' in t) return `unix:${t.path}`;
  return 'fd' in t ? `fd ${t.fd}` : 'a handle';
}

/**
 * Replace net.Server#listen so that an app's own listen() never reaches
 * node:cluster (whose worker-side listen asks the master to open the port, or
 * to adopt a descriptor of its own for listen({ fd }), and round-robins
 * connections through it; the master refuses that anyway, see
 * lib/master/intake/ipc-guard.ts). `onListen` decides what to do with the server
 * instead, and gets the call's callback. Only tsgund's own code listens on
 * a handle (the sockets the master sent), or on anything with `passOwnCalls`.
 */
export function interceptListen(
  onListen: (server: Server, target: ListenTarget, cb: (() => void) | undefined) => void,
  { passOwnCalls = false } = {},
): void {
  patchServerListen(
    (original) =>
      function listen(this: Server, ...args: ListenArgs): Server {
        const target = listenTarget(args);
        const onHandle = 'fd' in target || 'handle' in target;
        if ((passOwnCalls || onHandle) && isOwnCaller(listen)) {
          return original.apply(this, args as Parameters<typeof original>);
        }
        onListen(this, target, args.findLast((a) => typeof a === 'function') as (() => void) | undefined);
        return this;
      } as typeof original,
  );
}

const OWN_CODE = dirname(dirname(fileURLToPath(import.meta.url)));

/** Whether the caller of `fn` is tsgund's own code (the master's control and stats servers). */
function isOwnCaller(fn: (...a: never[]) => unknown): boolean {
  const prepare = Error.prepareStackTrace;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  Error.prepareStackTrace = (_, sites) => sites;
  Error.captureStackTrace(holder, fn);
  const sites = holder.stack;
  Error.prepareStackTrace = prepare;
  const file = sites?.[0]?.getFileName() ?? '';
  return (file.startsWith('file:') ? fileURLToPath(file) : file).startsWith(OWN_CODE);
}
