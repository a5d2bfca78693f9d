// How the master keeps sticky placement (sticky-placement.ts) in step with its
// generations: it starts at start, follows a candidate's binds on HUP and
// the serving generation's again if the candidate fails, and sends
// connections to the serving generation's accepting workers only.

import type { Settings } from '../../config/types.js';
import type { ErrorLog } from '../../log/error-line.js';
import type { Generation } from '../lifecycle/generation.js';
import type { Pool, Worker } from '../pool/pool.js';
import { StickyPlacement, type StickyTarget } from './sticky-placement.js';

/** Sticky placement: from now on the master accepts on the binds (see sticky-placement.ts). */
export async function startSticky(
  first: Generation,
  serving: () => Generation | null,
  pool: Pool,
  log: ErrorLog,
): Promise<StickyPlacement> {
  const backlog = () => (serving() ?? first).settings.backlog;
  // a worker that acknowledges no connection is hung: aborted (the workerAbort hook runs) and replaced
  const hung = (t: StickyTarget) =>
    pool
      .of(serving())
      .find((h) => h.worker === t)
      ?.abort();
  const sticky = new StickyPlacement(() => stickyTargets(pool.of(serving())), backlog, log, { hung });
  sticky.configure(first.settings);
  await sticky.follow(first.listeners, backlog());
  log.info('Sticky placement by X-Forwarded-For: the master accepts and hands each connection to a worker');
  return sticky;
}

/**
 * Sticky placement is fixed at start (the master cannot stop accepting on a
 * socket without closing it): a HUP only makes it accept on new binds. A
 * configuration that asks otherwise gets one warning (`warn`: a candidate's).
 */
export async function followSticky(
  sticky: StickyPlacement | null,
  mode: Settings['sticky'],
  gen: Generation,
  log: ErrorLog,
  warn: boolean,
): Promise<void> {
  if (warn && gen.settings.sticky !== mode) {
    log.warning(`setting 'sticky' takes effect at start; it stays ${JSON.stringify(mode)} until a restart or USR2`);
  }
  sticky?.configure(gen.settings);
  await sticky?.follow(gen.listeners, gen.settings.backlog);
}

/** Where sticky placement sends connections: the serving generation's accepting workers, by slot. */
function stickyTargets(workers: readonly Worker[]): Map<number, StickyTarget> {
  const targets = new Map<number, StickyTarget>();
  for (const h of workers) if (h.accepting && h.worker.isConnected()) targets.set(h.slot, h.worker);
  return targets;
}
