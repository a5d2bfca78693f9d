// Master side of the metrics: a prom-client Registry of its own (never the
// global one, which an app loaded with --preload could also use), fed with the
// request deltas that workers send in their heartbeats and with the master's
// own events (restarts, reloads). Gauges are set from the status snapshot at
// each scrape. The app's own prom-client metrics, collected from the workers
// at each scrape (app-metrics-collector.ts), follow tsgund's, aggregated as
// prom-client's AggregatorRegistry does.

import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { AppMetricsStatus, StatusSnapshot, WorkerStatus } from '../protocol/status.js';
import { IGNORE_REASONS, type IgnoreReason } from '../protocol/worker-message-schemas.js';
import { withoutReserved } from '../protocol/app-metrics.js';
import type { AppScrape } from './app-metrics-collector.js';
import { DURATION_BUCKETS, STATUS_CLASSES, isRequestDelta, type RequestDelta } from '../protocol/request-metrics.js';
import { CHANNEL_NAMES } from '../protocol/channel.js';
import { RuntimeGauges } from './runtime-metrics.js';

export const RESTART_CAUSES = ['crash', 'unexpected_exit', 'timeout', 'max_requests', 'max_memory', 'signal'] as const;
export type RestartCause = (typeof RESTART_CAUSES)[number];

const WORKER_STATES: readonly WorkerStatus['state'][] = ['booting', 'ready', 'draining', 'stopping'];

/**
 * A histogram whose observations arrive already bucketed (from the workers).
 * prom-client's Histogram can only `observe` one value at a time, so this
 * object implements the metric contract its Registry reads (`name`, `help`,
 * `type`, `get()` returning the values with `metricName` and labels: the same
 * shape prom-client's own AggregatorRegistry registers for cluster metrics).
 */
class BucketedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  private sum = 0;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  add(buckets: readonly number[], sum: number): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += buckets[i] ?? 0;
    this.sum += sum;
  }

  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }>;
  }> {
    let cumulative = 0;
    const values = DURATION_BUCKETS.map((le, i) => {
      cumulative += this.counts[i]!;
      return {
        metricName: `${this.name}_bucket`,
        labels: { le } as Record<string, string | number>,
        value: cumulative,
      };
    });
    const count = cumulative + this.counts[DURATION_BUCKETS.length]!;
    values.push(
      { metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: count },
      { metricName: `${this.name}_sum`, labels: {}, value: this.sum },
      { metricName: `${this.name}_count`, labels: {}, value: count },
    );
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Registry#resetMetrics calls this. */
  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
  }
}

export class MasterMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'tsgund_http_requests_total',
    help: 'HTTP requests answered by the workers, by status class (499: the client closed the connection first)',
    labelNames: ['status_class'] as const,
    registers: [this.registry],
  });
  private readonly protocols = new Counter({
    name: 'tsgund_http_requests_by_protocol_total',
    help: 'HTTP requests answered by the workers, by protocol (http1: HTTP/1.0 and 1.1; http2)',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly duration = new BucketedHistogram(
    'tsgund_http_request_duration_seconds',
    'Time from the request to the end of its response, in seconds',
  );
  private readonly workers = new Gauge({
    name: 'tsgund_workers',
    help: 'Worker processes by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  private readonly restarts = new Counter({
    name: 'tsgund_worker_restarts_total',
    help: 'Workers replaced, by cause: crash (died unasked), unexpected_exit (exit 0 unannounced), timeout (missed heartbeat), max_requests, max_memory, signal (TERM from outside)',
    labelNames: ['cause'] as const,
    registers: [this.registry],
  });
  private readonly reloads = new Counter({
    name: 'tsgund_reloads_total',
    help: 'Reloads (HUP), by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly generation = new Gauge({
    name: 'tsgund_generation',
    help: 'Generation of the workers currently serving',
    registers: [this.registry],
  });
  private readonly generations = new Gauge({
    name: 'tsgund_generation_workers',
    help: 'Workers of each generation, with the settings it runs: role (serving, booting, draining), a digest of its settings, its config file and app',
    labelNames: ['generation', 'role', 'settings_digest', 'config', 'app'] as const,
    registers: [this.registry],
  });
  private readonly workerGeneration = new Gauge({
    name: 'tsgund_worker_generation',
    help: 'The generation each worker belongs to (and whose settings it runs)',
    labelNames: ['pid'] as const,
    registers: [this.registry],
  });
  private readonly ignored = new Counter({
    name: 'tsgund_worker_messages_ignored_total',
    help: 'Messages from workers the master did not act on, by reason: unknown kind, malformed, wrong state, internal, bind request',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly channelPauses = new Counter({
    name: 'tsgund_channel_pauses_total',
    help: "Times the master stopped reading a worker's channel because one of its budgets was spent (backpressure), by channel",
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  /** The pauses already counted, by channel: the snapshot holds totals. */
  private readonly pausesSeen = new Map<string, number>();
  private readonly workerRss = new Gauge({
    name: 'tsgund_worker_resident_memory_bytes',
    help: 'Resident memory of each worker, as of its last heartbeat',
    labelNames: ['pid'] as const,
    registers: [this.registry],
  });

  private readonly appWorkers = new Gauge({
    name: 'tsgund_app_metrics_workers',
    help: "Workers asked for the app's own prom-client metrics at this scrape, by whether they answered in time",
    labelNames: ['answered'] as const,
    registers: [this.registry],
  });
  private readonly appUnreported = new Counter({
    name: 'tsgund_app_metrics_unreported_exits_total',
    help: "Workers that exited without reporting their last app metrics (killed, crashed): what they counted since their last answer to a scrape is not in the app's counters",
    registers: [this.registry],
  });
  private readonly appDropped = new Counter({
    name: 'tsgund_app_metrics_series_dropped_total',
    help: "Series of exited workers' app counters and histograms not kept, past the limit of series the master keeps",
    registers: [this.registry],
  });
  private readonly runtime = new RuntimeGauges(this.registry);
  /** App metric names already reported as clashing with tsgund's (one warning each, bounded). */
  private readonly clashes = new Set<string>();

  constructor(private readonly warn: (message: string) => void = () => {}) {
    this.registry.registerMetric(this.duration as unknown as Metric);
    collectDefaultMetrics({ register: this.registry, prefix: 'tsgund_master_' });
    // every series exists from the start, at 0, so rate() and alerts see the first event
    for (const c of STATUS_CLASSES) this.requests.inc({ status_class: c }, 0);
    for (const c of RESTART_CAUSES) this.restarts.inc({ cause: c }, 0);
    for (const r of ['ok', 'failed']) this.reloads.inc({ result: r }, 0);
    for (const reason of IGNORE_REASONS) this.ignored.inc({ reason }, 0);
    for (const channel of CHANNEL_NAMES) this.channelPauses.inc({ channel }, 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Add the requests a worker reports in a heartbeat (anything malformed is ignored). */
  addDelta(delta: RequestDelta): void {
    if (!isRequestDelta(delta)) return;
    STATUS_CLASSES.forEach((c, i) => {
      const n = delta.classes[i] ?? 0;
      if (n > 0) this.requests.inc({ status_class: c }, n);
    });
    this.duration.add(delta.buckets, delta.sum);
    const total = delta.classes.reduce((a, b) => a + b, 0);
    const [http1, http2] = delta.protocols ?? [total, 0];
    if (http1) this.protocols.inc({ protocol: 'http1' }, http1);
    if (http2) this.protocols.inc({ protocol: 'http2' }, http2);
  }

  restart(cause: RestartCause): void {
    this.restarts.inc({ cause });
  }

  ignoredMessage(reason: IgnoreReason): void {
    this.ignored.inc({ reason });
  }

  appUnreportedExit(): void {
    this.appUnreported.inc();
  }

  appSeriesDropped(): void {
    this.appDropped.inc();
  }

  reload(ok: boolean): void {
    this.reloads.inc({ result: ok ? 'ok' : 'failed' });
  }

  /**
   * The Prometheus text exposition, with the gauges taken from `snapshot`,
   * followed by the app's metrics of `app` (when collected).
   */
  async render(snapshot: StatusSnapshot, app: AppScrape | null = null): Promise<string> {
    this.generation.set(snapshot.generation);
    for (const [channel, total] of Object.entries(snapshot.channelPauses ?? {})) {
      const seen = this.pausesSeen.get(channel) ?? 0;
      if (total > seen) this.channelPauses.inc({ channel }, total - seen);
      this.pausesSeen.set(channel, total);
    }
    for (const state of WORKER_STATES)
      this.workers.set({ state }, snapshot.workers.filter((w) => w.state === state).length);
    this.generations.reset(); // generations without workers drop out
    for (const g of snapshot.generations ?? [])
      this.generations.set(
        {
          generation: String(g.generation),
          role: g.role,
          settings_digest: g.digest,
          config: g.configPath ?? '',
          app: g.app,
        },
        g.workers,
      );
    this.workerGeneration.reset();
    for (const w of snapshot.workers) this.workerGeneration.set({ pid: String(w.pid) }, w.generation);
    this.workerRss.reset(); // workers that exited drop out
    for (const w of snapshot.workers) if (w.rss > 0) this.workerRss.set({ pid: String(w.pid) }, w.rss);
    this.runtime.update(snapshot);
    this.appWorkers.set({ answered: 'yes' }, app?.answered ?? 0);
    this.appWorkers.set({ answered: 'no' }, app ? app.asked - app.answered : 0);
    const own = await this.registry.metrics();
    const aggregated = app && this.aggregate(app);
    if (!aggregated?.getMetricsAsArray().length) return own;
    return own + '\n' + (await aggregated.metrics());
  }

  /** The app's metrics of `app` as JSON, for `tsgund status --json`. */
  async appStatus(app: AppScrape): Promise<AppMetricsStatus> {
    const aggregated = this.aggregate(app);
    return {
      workers: { asked: app.asked, answered: app.answered },
      metrics: aggregated ? ((await aggregated.getMetricsAsJSON()) as unknown as AppMetricsStatus['metrics']) : [],
    };
  }

  /** One registry of the workers' answers, as prom-client's AggregatorRegistry sums them; null if that fails. */
  private aggregate(app: AppScrape): Registry | null {
    const answers = app.answers.map((metrics) => {
      const { kept, reserved } = withoutReserved(metrics);
      this.reportClashes(reserved);
      return kept;
    });
    try {
      return AggregatorRegistry.aggregate(answers);
    } catch (err) {
      this.warn(`app metrics left out of this scrape: ${(err as Error).message}`);
      return null;
    }
  }

  private reportClashes(names: string[]): void {
    const fresh = names.filter((n) => !this.clashes.has(n));
    if (!fresh.length || this.clashes.size >= 1000) return;
    for (const n of fresh) this.clashes.add(n);
    this.warn(`app metrics named like tsgund's own are left out (tsgund's win): ${fresh.slice(0, 10).join(', ')}`);
  }
}
