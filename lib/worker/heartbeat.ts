import type { RequestMetrics } from '../stats/request-metrics.js';
import type { RuntimeSample, WorkerToMaster } from './messages.js';

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
