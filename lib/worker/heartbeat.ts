import type { RequestMetrics } from '../protocol/request-metrics.js';
import type { RuntimeSample, WorkerToMaster } from '../protocol/messages.js';

/**
 * Whether a check-in at `now` (monotonic ms) sends a heartbeat: when the
 * worker served (requests or connections) since the last one, or the idle
 * interval's slot changed. Slots are on the shared clock's grid, so every
 * idle worker beats in the same check-in (lib/grid.ts). No idle interval:
 * every check-in beats.
 */
export function beatDue(last: { served: number; at: number }, served: number, now: number, idleMs: number): boolean {
  if (served !== last.served || idleMs <= 0) return true;
  return Math.floor(now / idleMs) !== Math.floor(last.at / idleMs);
}

/**
 * The heartbeat: the worker's counts since it started, its RSS, the request
 * metrics counted since the last one (for the master's statsBind), and its
 * runtime health.
 */
export function heartbeat(
  requests: number,
  accepted: number,
  metrics: RequestMetrics | null,
  runtime: RuntimeSample,
): WorkerToMaster {
  return {
    type: 'heartbeat',
    requests,
    accepted,
    rss: process.memoryUsage.rss(),
    stats: metrics?.takeDelta() ?? undefined,
    runtime,
  };
}
