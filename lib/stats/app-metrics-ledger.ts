// What keeps the app's counters and histograms from going backwards in
// /metrics. prom-client's AggregatorRegistry sums the answers of the workers
// it reaches: when a worker exits (max-requests, a crash, a reload), its
// counts leave the sum, and Prometheus takes the drop for a counter reset.
// Here the master keeps, for each live worker, the last values it reported of
// every series that only ever adds (a counter or histogram aggregated by
// `sum`), and, for the workers that are gone, their totals. A scrape then
// sums, per series:
//   the answers of the workers that answered it,
//   + the last values of live workers that did not (late, draining, booting),
//   + the totals of the workers that exited.
// A worker reports its last values as it drains (FINAL_REPORT_ID), so one that
// exits gracefully loses nothing; one that is killed loses what it counted
// since its last answer, which no scrape has shown yet, so no scrape sees a
// drop. A series whose value falls within one worker (the app reset it) is
// taken as Prometheus takes a reset: the old value moves to the totals.
// Gauges and the other aggregators keep prom-client's meaning: live answers
// only. This module loads nothing, so anything may import it.

import { type AppMetric, type AppMetricValue, isReserved } from '../protocol/app-metrics.js';

/** Series of exited workers kept at most; past it, a new series is dropped and counted. */
export const MAX_RETIRED_SERIES = 10_000;

type CumulativeType = 'counter' | 'histogram';

interface Series {
  metric: string;
  help: string;
  type: CumulativeType;
  value: AppMetricValue;
}

/** One worker's cumulative series, by key. */
type Values = Map<string, Series>;

export interface LedgerEvents {
  /** A worker that had served exited without reporting its last values. */
  unreported(): void;
  /** A series of an exited worker was not kept (MAX_RETIRED_SERIES). */
  dropped(): void;
}

const isCumulative = (m: AppMetric): m is AppMetric & { type: CumulativeType } =>
  m.aggregator === 'sum' && (m.type === 'counter' || m.type === 'histogram');

/** A series by its metric, series name and labels (in any order). */
function keyOf(metric: string, v: AppMetricValue): string {
  const labels = Object.entries(v.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([metric, v.metricName ?? '', labels]);
}

function valuesOf(metrics: readonly AppMetric[]): Values {
  const out: Values = new Map();
  for (const m of metrics) {
    if (!isCumulative(m) || isReserved(m)) continue;
    for (const value of m.values) out.set(keyOf(m.name, value), { metric: m.name, help: m.help, type: m.type, value });
  }
  return out;
}

/** Series back into prom-client's metric shape, one metric per name. */
function asMetrics(series: Iterable<Series>): AppMetric[] {
  const byName = new Map<string, AppMetric>();
  for (const s of series) {
    const m = byName.get(s.metric) ?? { name: s.metric, help: s.help, type: s.type, aggregator: 'sum', values: [] };
    m.values.push(s.value);
    byName.set(s.metric, m);
  }
  return [...byName.values()];
}

export class AppMetricsLedger {
  /** The last cumulative values of each live worker that reported any. */
  private readonly last = new Map<number, Values>();
  /** The workers that sent their final report. */
  private readonly reported = new Set<number>();
  /** The totals of the workers that exited. */
  private readonly retired: Values = new Map();

  constructor(private readonly events: LedgerEvents) {}

  /** The worker `pid` answered with `metrics` (checked by parseMetricsAnswer). */
  record(pid: number, metrics: readonly AppMetric[]): void {
    const fresh = valuesOf(metrics);
    const before = this.last.get(pid);
    if (before) {
      for (const [key, s] of before) {
        const now = fresh.get(key);
        // fallen or gone: reset by the app, so what it counted before is kept
        if (!now || now.value.value < s.value.value) this.retire(key, s);
      }
    }
    this.last.set(pid, fresh);
  }

  /** The worker `pid` sent its last values as it drains: at most once. */
  final(pid: number, metrics: readonly AppMetric[]): void {
    this.record(pid, metrics);
    this.reported.add(pid);
  }

  hasFinal(pid: number): boolean {
    return this.reported.has(pid);
  }

  /** The worker `pid` exited; `served`: it had become ready. */
  exited(pid: number, served: boolean): void {
    for (const [key, s] of this.last.get(pid) ?? []) this.retire(key, s);
    this.last.delete(pid);
    if (served && !this.reported.has(pid)) this.events.unreported();
    this.reported.delete(pid);
  }

  /**
   * The lists to aggregate for a scrape that `answered` (worker pids): the
   * answers first (so their types and aggregators win in prom-client's
   * aggregate), then the last values of live workers that did not answer,
   * then the totals of the exited ones. A kept metric that an answer now
   * declares otherwise (another type or aggregator) is left out.
   */
  complete(answers: readonly AppMetric[][], answered: readonly number[]): AppMetric[][] {
    const declared = new Map<string, AppMetric>();
    for (const list of answers) for (const m of list) if (!declared.has(m.name)) declared.set(m.name, m);
    const fits = (s: Series): boolean => {
      const d = declared.get(s.metric);
      return !d || (d.type === s.type && d.aggregator === 'sum');
    };
    const extra: AppMetric[][] = [];
    const asked = new Set(answered);
    for (const [pid, values] of this.last)
      if (!asked.has(pid)) extra.push(asMetrics([...values.values()].filter(fits)));
    extra.push(asMetrics([...this.retired.values()].filter(fits)));
    return [...answers, ...extra.filter((list) => list.length > 0)];
  }

  private retire(key: string, s: Series): void {
    const kept = this.retired.get(key);
    if (kept) {
      kept.value = { ...kept.value, value: kept.value.value + s.value.value };
      return;
    }
    if (this.retired.size >= MAX_RETIRED_SERIES) this.events.dropped();
    else this.retired.set(key, { ...s, value: { ...s.value } });
  }
}
