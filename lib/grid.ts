// A shared grid of time for the master and its workers: the system's
// monotonic clock (the same in every process, unlike performance.now()),
// cut in intervals. Workers check in on it and the master ticks just after,
// so an idle pool's heartbeats reach the master in a few wake-ups a second
// rather than one each.

/** The system's monotonic clock, in ms. */
export const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

/** Milliseconds from `now` to the next multiple of `everyMs` plus `offsetMs`. */
export function untilGrid(everyMs: number, offsetMs = 0, now = monotonicMs()): number {
  const into = (((now - offsetMs) % everyMs) + everyMs) % everyMs;
  return into === 0 ? 0 : everyMs - into;
}

/**
 * Move an interval timer onto the grid (offset by `offsetMs`): its next call
 * comes at a grid instant, then every interval. Nothing if it was cleared meanwhile.
 */
export function alignToGrid(timer: NodeJS.Timeout, everyMs: number, offsetMs = 0): void {
  // refresh() restarts the interval from now, and leaves a cleared timer alone (Node 22, 24, 26)
  setTimeout(() => timer.refresh(), untilGrid(everyMs, offsetMs)).unref();
}
