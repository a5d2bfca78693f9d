// The ledger that keeps the app's counters and histograms from going
// backwards: workers that answer, go late, drain with a final report, are
// killed, reset a series, or change a metric's type; and the cap on what the
// master keeps. Real prom-client registries play the workers, and the result
// goes through prom-client's own aggregation, as in /metrics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type AppMetric, METRICS_RESPONSE, parseMetricsAnswer } from '../../lib/protocol/app-metrics.js';
import { AppMetricsLedger, MAX_RETIRED_SERIES } from '../../lib/stats/app-metrics-ledger.js';

/** A worker's app: a counter with a label, a histogram and a gauge. */
class FakeApp {
  readonly registry = new Registry();
  readonly hits = new Counter({
    name: 'app_hits_total',
    help: 'hits',
    labelNames: ['route'],
    registers: [this.registry],
  });
  readonly latency = new Histogram({ name: 'app_seconds', help: 's', buckets: [0.1, 1], registers: [this.registry] });
  readonly up = new Gauge({ name: 'app_up', help: 'up', registers: [this.registry] });
  constructor() {
    this.up.set(1);
  }
  /** Its answer, through JSON and the master's check, as over IPC. */
  async answer(): Promise<AppMetric[]> {
    const msg = { type: METRICS_RESPONSE, requestId: 1, metrics: [await this.registry.getMetricsAsJSON()] };
    const parsed = parseMetricsAnswer(JSON.parse(JSON.stringify(msg)));
    assert.ok(parsed.ok);
    return parsed.metrics;
  }
}

function ledger() {
  const counts = { unreported: 0, dropped: 0 };
  const l = new AppMetricsLedger({ unreported: () => counts.unreported++, dropped: () => counts.dropped++ });
  return { l, counts };
}

/** One scrape: `answering` answer (and are recorded), then everything is aggregated as /metrics does. */
async function scrape(l: AppMetricsLedger, answering: Map<number, FakeApp>): Promise<Map<string, number>> {
  const pids = [...answering.keys()];
  const answers = await Promise.all([...answering.values()].map((a) => a.answer()));
  for (const [i, m] of answers.entries()) l.record(pids[i]!, m);
  const registry = AggregatorRegistry.aggregate(l.complete(answers, pids));
  const out = new Map<string, number>();
  for (const m of await registry.getMetricsAsJSON())
    for (const v of m.values) {
      const labels = Object.entries(v.labels)
        .map(([k, x]) => `${k}=${x}`)
        .join(',');
      out.set(`${(v as { metricName?: string }).metricName ?? m.name}{${labels}}`, v.value);
    }
  return out;
}

describe('AppMetricsLedger', () => {
  it('keeps what exited workers counted, from their last answer or their final report', async () => {
    const { l, counts } = ledger();
    const [a, b] = [new FakeApp(), new FakeApp()];
    a.hits.inc({ route: '/x' }, 3);
    b.hits.inc({ route: '/x' }, 4);
    a.latency.observe(0.05);
    let seen = await scrape(
      l,
      new Map([
        [1, a],
        [2, b],
      ]),
    );
    assert.equal(seen.get('app_hits_total{route=/x}'), 7);
    assert.equal(seen.get('app_up{}'), 2);

    // a drains and reports on its way out; b is killed after counting more, unreported
    a.hits.inc({ route: '/x' }, 10);
    l.final(1, await a.answer());
    assert.ok(l.hasFinal(1));
    l.exited(1, true);
    b.hits.inc({ route: '/x' }, 100);
    l.exited(2, true);
    assert.deepEqual(counts, { unreported: 1, dropped: 0 });

    const c = new FakeApp();
    c.hits.inc({ route: '/y' });
    seen = await scrape(l, new Map([[3, c]]));
    assert.equal(seen.get('app_hits_total{route=/x}'), 13 + 4, "a's final report, b's last answer");
    assert.equal(seen.get('app_hits_total{route=/y}'), 1);
    assert.equal(seen.get('app_seconds_count{}'), 1);
    assert.equal(seen.get('app_seconds_bucket{le=0.1}'), 1);
    assert.equal(seen.get('app_up{}'), 1, 'gauges: live workers only');
  });

  it('adds the last values of a live worker that did not answer, and never twice', async () => {
    const { l } = ledger();
    const [a, b] = [new FakeApp(), new FakeApp()];
    a.hits.inc({ route: '/x' }, 2);
    b.hits.inc({ route: '/x' }, 5);
    await scrape(
      l,
      new Map([
        [1, a],
        [2, b],
      ]),
    );
    b.hits.inc({ route: '/x' }, 1);
    const late = await scrape(l, new Map([[2, b]]));
    assert.equal(late.get('app_hits_total{route=/x}'), 2 + 6, "a's last values stand in for it");
    assert.equal(late.get('app_up{}'), 1, 'but not its gauge');
    const both = await scrape(
      l,
      new Map([
        [1, a],
        [2, b],
      ]),
    );
    assert.equal(both.get('app_hits_total{route=/x}'), 8);
  });

  it('takes a fall within one worker for a reset, as Prometheus does', async () => {
    const { l } = ledger();
    const a = new FakeApp();
    a.hits.inc({ route: '/x' }, 5);
    a.hits.inc({ route: '/gone' }, 2);
    await scrape(l, new Map([[1, a]]));
    a.registry.resetMetrics();
    a.hits.inc({ route: '/x' }, 1);
    const seen = await scrape(l, new Map([[1, a]]));
    assert.equal(seen.get('app_hits_total{route=/x}'), 6);
    assert.equal(seen.get('app_hits_total{route=/gone}'), 2);
  });

  it('leaves out kept values of a metric that the app now declares as another type', async () => {
    const { l } = ledger();
    const a = new FakeApp();
    a.hits.inc({ route: '/x' }, 5);
    await scrape(l, new Map([[1, a]]));
    l.exited(1, false);
    const b = new FakeApp();
    b.registry.removeSingleMetric('app_hits_total');
    new Gauge({ name: 'app_hits_total', help: 'now a gauge', labelNames: ['route'], registers: [b.registry] }).set(
      { route: '/x' },
      1,
    );
    const seen = await scrape(l, new Map([[2, b]]));
    assert.equal(seen.get('app_hits_total{route=/x}'), 1);
  });

  it('keeps at most MAX_RETIRED_SERIES series of exited workers, and counts the rest', () => {
    const { l, counts } = ledger();
    const values = Array.from({ length: MAX_RETIRED_SERIES + 5 }, (_, i) => ({ value: 1, labels: { id: i } }));
    l.record(1, [{ name: 'app_many_total', help: 'h', type: 'counter', aggregator: 'sum', values }]);
    l.exited(1, false);
    assert.equal(counts.dropped, 5);
    assert.equal(counts.unreported, 0, 'a worker that never served has nothing to report');
    const kept = l.complete([], []);
    assert.equal(kept[0]![0]!.values.length, MAX_RETIRED_SERIES);
  });

  it('ignores gauges, other aggregators and names in tsgund namespace', () => {
    const { l } = ledger();
    const base = { help: 'h', values: [{ value: 1, labels: {} }] };
    l.record(1, [
      { ...base, name: 'app_g', type: 'gauge', aggregator: 'sum' },
      { ...base, name: 'app_max_total', type: 'counter', aggregator: 'max' },
      { ...base, name: 'tsgund_x_total', type: 'counter', aggregator: 'sum' },
      { ...base, name: 'app_ok_total', type: 'counter', aggregator: 'sum' },
    ]);
    l.exited(1, true);
    assert.deepEqual(
      l.complete([], []).flatMap((list) => list.map((m) => m.name)),
      ['app_ok_total'],
    );
  });
});
