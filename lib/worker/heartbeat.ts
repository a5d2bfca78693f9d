import type { RequestMetrics } from '../protocol/request-metrics.js';
import type { WorkerToMaster } from '../protocol/messages.js';

/**
 * The heartbeat: the worker's counts since it started, its RSS, and the
 * request metrics counted since the last one (for the master's statsBind).
 */
export function heartbeat(requests: number, accepted: number, metrics: RequestMetrics | null): WorkerToMaster {
  return {
    type: 'heartbeat',
    requests,
    accepted,
    rss: process.memoryUsage.rss(),
    stats: metrics?.takeDelta() ?? undefined,
  };
}
