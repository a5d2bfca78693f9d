import { describeTarget, type ListenTarget } from './listen-hook.js';

/** A socket the master handed this worker, with what an app's listen() can match. */
export interface Bind {
  label: string;
  handle: unknown;
  /** The bound TCP port, null for a unix socket. */
  port: number | null;
  /** The socket path of a unix bind. */
  path: string | null;
}

type Sockname = { getsockname?(out: Record<string, unknown>): number };

export function describeBind(label: string, handle: unknown): Bind {
  const out: Record<string, unknown> = {};
  const tcp = typeof (handle as Sockname).getsockname === 'function' && (handle as Sockname).getsockname!(out) === 0;
  return {
    label,
    handle,
    port: tcp && typeof out.port === 'number' ? out.port : null,
    path: label.startsWith('unix:') ? label.slice(5) : null,
  };
}

/** The port tsgund puts in PORT for the app: that of its first TCP bind. */
export const appPort = (binds: Bind[]): number | null => binds.find((b) => b.port !== null)?.port ?? null;

/**
 * The listen rule: a listen() on the port of one of tsgund's binds, or on the
 * path of one of its unix binds, is served from all of them. Anything else
 * (another port, port 0, another path, an fd or a handle) is refused: null when it matches, else
 * the one-line reason.
 */
export function refuseListen(target: ListenTarget, binds: Bind[]): string | null {
  // a descriptor or a handle is never one of them: node:cluster would ask the master to adopt it
  const match =
    ('port' in target && binds.some((b) => b.port === target.port)) ||
    ('path' in target && binds.some((b) => b.path === target.path));
  if (match) return null;
  if (!binds.length)
    return `the app called listen() on ${describeTarget(target)}, but nothing is bound (bind is empty, as for an ecosystem entry without a port): give it a bind (-b, or port or env.PORT in its ecosystem entry)`;
  const port = appPort(binds);
  const hint = port === null ? 'listen on a unix bind path' : `listen on process.env.PORT (${port})`;
  return `the app called listen() on ${describeTarget(target)}, which is not one of tsgund's binds (${binds.map((b) => b.label).join(', ')}); ${hint} or change --bind`;
}
