// The app's own prom-client metrics, as workers report them over IPC with
// prom-client's cluster protocol (lib/cluster.js, the same in versions 11 to 15):
//   master -> worker  { type: 'prom-client:getMetricsReq', requestId }
//   worker -> master  { type: 'prom-client:getMetricsRes', requestId, metrics: [registry JSON, ...] }
//                  or { type: 'prom-client:getMetricsRes', requestId, error: 'message' }  (13 and later)
// where each registry JSON is `registry.getMetricsAsJSON()`. An answer comes
// from app code, so it is checked here before prom-client renders any of it:
// prom-client escapes HELP texts and label values, but writes metric names,
// label names, types and values into the exposition as they are.
// This module loads nothing (no prom-client), so anything may import it.

export const METRICS_REQUEST = 'prom-client:getMetricsReq';
export const METRICS_RESPONSE = 'prom-client:getMetricsRes';

export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  requestId: number;
}

/** prom-client's aggregators (`aggregators` in lib/metricAggregators.js). */
export const AGGREGATORS = ['sum', 'first', 'min', 'max', 'average', 'omit'] as const;
export type Aggregator = (typeof AGGREGATORS)[number];
const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'summary'] as const;

export interface AppMetricValue {
  value: number;
  labels: Record<string, string | number>;
  /** `name_bucket`, `name_sum`, …: the series name when it is not the metric's. */
  metricName?: string;
}

/** One metric of one worker, as prom-client's `AggregatorRegistry.aggregate` takes it. */
export interface AppMetric {
  name: string;
  help: string;
  type: (typeof METRIC_TYPES)[number];
  aggregator: Aggregator;
  values: AppMetricValue[];
}

export type MetricsAnswer =
  | { ok: true; requestId: number; metrics: AppMetric[]; unsupported: string[] }
  | { ok: false; requestId: number | null; why: string };

/** What one worker's answer may weigh, roughly in bytes of its JSON (the IPC channel takes 1 MiB a message). */
export const MAX_ANSWER_BYTES = 1048576;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
// names starting with __ are reserved by Prometheus (and keep "__proto__" out of label objects)
const LABEL_NAME = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_NAME = 200;

/** Is this message an answer to a metrics request (not yet checked)? */
export function isMetricsResponse(msg: unknown): boolean {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === METRICS_RESPONSE;
}

class Malformed extends Error {}

/** Counts the approximate size of what is read, and refuses past the limit. */
class Budget {
  private used = 0;
  constructor(private readonly limit: number) {}
  spend(bytes: number): void {
    this.used += bytes;
    if (this.used > this.limit) throw new Malformed(`larger than ${this.limit} bytes`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(v: unknown, what: string, budget: Budget, pattern?: RegExp): string {
  if (typeof v !== 'string') throw new Malformed(`${what} is not a string`);
  budget.spend(v.length + 8);
  if (pattern && (v.length > MAX_NAME || !pattern.test(v)))
    throw new Malformed(`${what} ${JSON.stringify(v.slice(0, 60))} is not a valid name`);
  return v;
}

function labelsOf(v: unknown, budget: Budget): Record<string, string | number> {
  if (v === undefined) return {};
  if (!isRecord(v)) throw new Malformed('labels are not an object');
  const out: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(v)) {
    text(name, 'label name', budget, LABEL_NAME);
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
    else out[name] = text(value, `label ${name}`, budget);
    budget.spend(8);
  }
  return out;
}

function seriesOf(v: unknown, budget: Budget): AppMetricValue {
  if (!isRecord(v)) throw new Malformed('a value is not an object');
  budget.spend(32);
  // JSON (the IPC channel's encoding) turns NaN and ±Infinity into null
  const value = v.value === null ? Number.NaN : v.value;
  if (typeof value !== 'number') throw new Malformed('a value is not a number');
  const out: AppMetricValue = { value, labels: labelsOf(v.labels, budget) };
  if (v.metricName !== undefined) out.metricName = text(v.metricName, 'series name', budget, METRIC_NAME);
  return out;
}

function metricOf(v: unknown, budget: Budget): AppMetric | string {
  if (!isRecord(v)) throw new Malformed('a metric is not an object');
  const name = text(v.name, 'metric name', budget, METRIC_NAME);
  const help = text(v.help ?? '', `help of ${name}`, budget);
  const type = v.type;
  if (!METRIC_TYPES.includes(type as AppMetric['type'])) throw new Malformed(`${name} has an unknown type`);
  if (!Array.isArray(v.values)) throw new Malformed(`values of ${name} are not a list`);
  const values = v.values.map((x) => seriesOf(x, budget));
  // prom-client's default aggregator; a custom one cannot be applied here, so the metric is left out
  const aggregator = v.aggregator ?? 'sum';
  if (!AGGREGATORS.includes(aggregator as Aggregator)) return name;
  return { name, help, type: type as AppMetric['type'], aggregator: aggregator as Aggregator, values };
}

/**
 * Check a worker's answer and copy what prom-client may aggregate and render.
 * Never throws: anything malformed makes the whole answer `ok: false`. Metrics
 * with an aggregator prom-client does not know are listed in `unsupported`.
 * (Node's IPC channel has parsed the message already: the size bound keeps
 * the master from rendering, and Prometheus from storing, what no app needs.)
 */
export function parseMetricsAnswer(msg: unknown, maxBytes = MAX_ANSWER_BYTES): MetricsAnswer {
  if (!isMetricsResponse(msg)) return { ok: false, requestId: null, why: 'not a metrics answer' };
  const m = msg as Record<string, unknown>;
  const requestId = Number.isSafeInteger(m.requestId) ? (m.requestId as number) : null;
  if (requestId === null) return { ok: false, requestId, why: 'no numeric requestId' };
  if (m.error !== undefined)
    return { ok: false, requestId, why: `prom-client failed: ${JSON.stringify(String(m.error).slice(0, 200))}` };
  if (!Array.isArray(m.metrics)) return { ok: false, requestId, why: 'metrics is not a list' };
  const budget = new Budget(maxBytes);
  const metrics: AppMetric[] = [];
  const unsupported: string[] = [];
  try {
    for (const registry of m.metrics) {
      if (!Array.isArray(registry)) throw new Malformed('a registry is not a list');
      for (const metric of registry) {
        const checked = metricOf(metric, budget);
        if (typeof checked === 'string') unsupported.push(checked);
        else metrics.push(checked);
      }
    }
  } catch (err) {
    return { ok: false, requestId, why: err instanceof Malformed ? err.message : 'unreadable' };
  }
  return { ok: true, requestId, metrics, unsupported };
}

/** Split off the metrics whose names tsgund's own use (prefix `tsgund_`): tsgund's win. */
export function withoutReserved(
  metrics: readonly AppMetric[],
  prefix = 'tsgund_',
): { kept: AppMetric[]; reserved: string[] } {
  const kept: AppMetric[] = [];
  const reserved: string[] = [];
  for (const m of metrics) {
    if (m.name.startsWith(prefix)) reserved.push(m.name);
    else kept.push(m);
  }
  return { kept, reserved };
}
