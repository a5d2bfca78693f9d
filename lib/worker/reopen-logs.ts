import { takeHandedLogs, type HandedLogs } from '../log/fd-handover.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { closeSync } = process.getBuiltinModule('node:fs');

/** A worker's log as USR1 sees it: reopen(fd) takes the master's descriptor, reopen() opens the path. */
interface Reopenable {
  reopen(handed?: number): void;
}

/** The fresh descriptors the master sent before the signal; null when none came (or none can). */
function handed(handoverFd: number | undefined): HandedLogs | null {
  if (handoverFd === undefined) return null;
  try {
    return takeHandedLogs(handoverFd);
  } catch {
    return null; // the socket is gone (a master that exits): the paths are left
  }
}

/**
 * USR1 in a worker: each log takes the descriptor the master handed over for
 * it, or else opens its path again (not with `handedOnly`: then a log
 * without a handed descriptor is left as it is). Returns why a log could not
 * be reopened (it keeps writing to the old file), or null when all were.
 */
export function reopenLogs(
  logs: { errorlog: Reopenable; accesslog: Reopenable | null },
  handoverFd: number | undefined,
  { handedOnly = false, take = handed }: { handedOnly?: boolean; take?: typeof handed } = {},
): string | null {
  const fresh = take(handoverFd) ?? {};
  const failures: string[] = [];
  for (const key of ['errorlog', 'accesslog'] as const) {
    const log = logs[key];
    const fd = fresh[key];
    if (!log || (handedOnly && fd === undefined)) {
      if (fd !== undefined) closeSync(fd);
      continue;
    }
    try {
      log.reopen(fd);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  return failures.length > 0 ? failures.join('; ') : null;
}
