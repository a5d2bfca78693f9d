// The budget of the channel that hands connections to a worker (sticky
// placement by X-Forwarded-For, where the master accepts): how many it may
// have unacknowledged, how many more wait for it, and how long an
// acknowledgement may take before the worker counts as hung.

/** Budgets for connections handed over IPC, per worker: a worker that spends its own never blocks another's. */
export interface HandOffBudget {
  /**
   * Hand-offs sent to one worker and not yet acknowledged (node:cluster sends
   * one descriptor at a time per channel and queues the rest until the worker
   * acknowledges). Past it, its clients wait in its own queue.
   */
  inFlightPerWorker: number;
  /** How many of its clients may wait beyond that (the backlog, as a listen queue); past it they are closed. */
  waitingPerWorker: (backlog: number) => number;
  /** A hand-off unacknowledged this long: the worker is hung (one error line, aborted and replaced). */
  ackDeadlineMs: number;
}

export const HAND_OFF_BUDGET: HandOffBudget = {
  inFlightPerWorker: 64,
  waitingPerWorker: (backlog) => backlog,
  ackDeadlineMs: 3000,
};
