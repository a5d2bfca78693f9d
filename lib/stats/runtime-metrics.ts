// Each worker's runtime health in /metrics, from its last heartbeat (see
// lib/worker/runtime-stats.ts): one gauge per figure, labelled by slot,
// generation and pid. Set from the status snapshot at each scrape, so a
// worker that exited drops out.
import { Gauge, type Registry } from 'prom-client';
import type { RuntimeStatus, StatusSnapshot } from '../protocol/status.js';

const LABELS = ['slot', 'generation', 'pid'] as const;

/** Each gauge: its name, help, and its value in a sample (in Prometheus base units). */
const FIGURES: ReadonlyArray<[string, string, (r: RuntimeStatus) => number]> = [
  ['eventloop_lag_p50_seconds', 'event-loop delay, median over the last heartbeat interval', (r) => r.delayP50 / 1000],
  [
    'eventloop_lag_p99_seconds',
    'event-loop delay, 99th percentile over the last heartbeat interval',
    (r) => r.delayP99 / 1000,
  ],
  ['eventloop_lag_max_seconds', 'event-loop delay, maximum over the last heartbeat interval', (r) => r.delayMax / 1000],
  ['eventloop_utilization', 'event-loop utilisation over the last heartbeat interval (0 to 1)', (r) => r.utilization],
  ['heap_used_bytes', 'V8 heap used', (r) => r.heapUsed],
  ['heap_limit_bytes', 'V8 heap size limit', (r) => r.heapLimit],
  ['gc_pause_seconds', 'garbage-collection pauses since the worker started', (r) => r.gcMs / 1000],
  ['open_connections', 'connections open', (r) => r.connections],
];

export class RuntimeGauges {
  private readonly gauges: Array<[Gauge<(typeof LABELS)[number]>, (r: RuntimeStatus) => number]>;

  constructor(registry: Registry) {
    this.gauges = FIGURES.map(([name, help, value]) => [
      new Gauge({
        name: `tsgund_worker_${name}`,
        help: `Per worker: ${help}`,
        labelNames: LABELS,
        registers: [registry],
      }),
      value,
    ]);
  }

  update(snapshot: StatusSnapshot): void {
    for (const [gauge] of this.gauges) gauge.reset();
    for (const w of snapshot.workers) {
      if (!w.runtime) continue;
      const labels = { slot: String(w.slot), generation: String(w.generation), pid: String(w.pid) };
      for (const [gauge, value] of this.gauges) gauge.set(labels, value(w.runtime));
    }
  }
}
