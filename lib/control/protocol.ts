import type { StatusSnapshot } from '../protocol/status.js';

/**
 * The control socket speaks newline-delimited JSON: one request object per
 * line (`{"cmd":"status"}`), one reply line per request.
 */
export type ControlReply = { ok: true; status: StatusSnapshot } | { ok: false; error: string };

/**
 * Where a master listens for control requests: `controlSocket`, else
 * `<pidfile>.sock`. A master started by USR2 holds `<pidfile>.2` and so listens
 * on `<pidfile>.2.sock` (or `<controlSocket>.2`) until the old master exits.
 */
export function controlSocketPath(
  controlSocket: string | null,
  pidfile: string | null,
  upgraded = false,
): string | null {
  const suffix = upgraded ? '.2' : '';
  if (controlSocket) return controlSocket + suffix;
  return pidfile ? `${pidfile}${suffix}.sock` : null;
}
