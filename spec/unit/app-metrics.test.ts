// The app's prom-client metrics in the master: the check of a worker's answer,
// the collection of one scrape (with a hand-driven timer) and the aggregation
// into /metrics, with real prom-client registries playing the workers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import {
  METRICS_REQUEST,
  METRICS_RESPONSE,
  parseMetricsAnswer,
  withoutReserved,
  type AppMetric,
} from '../../lib/protocol/app-metrics.js';
import {
  AppMetricsCollector,
  type AppScrape,
  type CollectorTimers,
  type MetricsPeer,
} from '../../lib/stats/app-metrics-collector.js';
import { MasterMetrics } from '../../lib/stats/master-metrics.js';

const answer = (metrics: unknown, requestId: unknown = 1) => ({ type: METRICS_RESPONSE, requestId, metrics });

/** What a worker's prom-client sends: the JSON of its registries, through JSON as over IPC. */
async function workerAnswer(requests: number, requestId = 1): Promise<unknown> {
  const registry = new Registry();
  new Counter({ name: 'app_requests_total', help: 'requests', registers: [registry] }).inc(requests);
  new Gauge({ name: 'app_up', help: 'up', registers: [registry] }).set(1);
  new Gauge({ name: 'app_started', help: 'start', aggregator: 'omit', registers: [registry] }).set(requests);
  new Gauge({ name: 'app_lag', help: 'lag', aggregator: 'max', registers: [registry] }).set(requests / 10);
  return JSON.parse(JSON.stringify(answer([await registry.getMetricsAsJSON()], requestId)));
}

const metric = (over: Record<string, unknown> = {}) => ({
  name: 'app_x',
  help: 'x',
  type: 'gauge',
  aggregator: 'sum',
  values: [{ value: 1, labels: { route: '/a' } }],
  ...over,
});

describe('parseMetricsAnswer', () => {
  it('accepts what prom-client sends, NaN included (null after JSON)', async () => {
    const ok = parseMetricsAnswer(await workerAnswer(3, 7));
    assert.ok(ok.ok);
    assert.equal(ok.requestId, 7);
    assert.deepEqual(
      ok.metrics.map((m) => [m.name, m.type, m.aggregator, m.values[0]!.value]),
      [
        ['app_requests_total', 'counter', 'sum', 3],
        ['app_up', 'gauge', 'sum', 1],
        ['app_started', 'gauge', 'omit', 3],
        ['app_lag', 'gauge', 'max', 0.3],
      ],
    );
    const nan = parseMetricsAnswer(answer([[metric({ values: [{ value: null, labels: {} }] })]]));
    assert.ok(nan.ok && Number.isNaN(nan.metrics[0]!.values[0]!.value));
  });

  it('drops, never throws on, anything that could break the exposition', () => {
    const bad: Array<[string, unknown]> = [
      ['not an object', 'x'],
      ['no requestId', { type: METRICS_RESPONSE, metrics: [] }],
      ['metrics not a list', answer({})],
      ['a registry not a list', answer([{}])],
      ['a metric not an object', answer([[null]])],
      ['a name with a newline', answer([[metric({ name: 'a\nevil 1' })]])],
      ['a name with a brace', answer([[metric({ name: 'a{x="1"}' })]])],
      ['an unknown type', answer([[metric({ type: 'gauge 1\nevil' })]])],
      ['a string value', answer([[metric({ values: [{ value: '1\nevil 2', labels: {} }] })]])],
      ['a bad label name', answer([[metric({ values: [{ value: 1, labels: { 'a b': 'x' } }] })]])],
      ['a reserved label name', answer([[metric({ values: [{ value: 1, labels: { __proto__x: 'x' } }] })]])],
      ['an object label value', answer([[metric({ values: [{ value: 1, labels: { a: {} } }] })]])],
      ['a bad series name', answer([[metric({ values: [{ value: 1, labels: {}, metricName: 'x y' }] })]])],
      ['an error from prom-client', { type: METRICS_RESPONSE, requestId: 1, error: 'boom\nline' }],
    ];
    for (const [why, msg] of bad) {
      const parsed = parseMetricsAnswer(msg);
      assert.equal(parsed.ok, false, why);
      assert.ok(!parsed.ok && !parsed.why.includes('\n'), `${why}: one line`);
    }
  });

  it('bounds the size of an answer', () => {
    const big = answer([[metric({ help: 'h'.repeat(2000) })]]);
    assert.equal(parseMetricsAnswer(big, 1000).ok, false);
    assert.equal(parseMetricsAnswer(big, 10_000).ok, true);
    const many = answer([Array.from({ length: 5000 }, (_, i) => metric({ name: `app_${i}` }))]);
    assert.equal(parseMetricsAnswer(many, 100_000).ok, false);
  });

  it('copies only what it checked, and leaves out unknown aggregators', () => {
    const parsed = parseMetricsAnswer(
      answer([
        [
          metric({ extra: 'x', values: [{ value: 2, labels: { a: 'b', le: 0.5 }, exemplar: { x: 1 } }] }),
          metric({ name: 'app_custom', aggregator: 'median' }),
        ],
      ]),
    );
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.metrics, [
      {
        name: 'app_x',
        help: 'x',
        type: 'gauge',
        aggregator: 'sum',
        values: [{ value: 2, labels: { a: 'b', le: 0.5 } }],
      },
    ]);
    assert.deepEqual(parsed.unsupported, ['app_custom']);
  });

  it("splits off names in tsgund's own namespace", () => {
    const { kept, reserved } = withoutReserved([
      metric({ name: 'tsgund_workers' }) as AppMetric,
      metric({ name: 'app_tsgund_x' }) as AppMetric,
    ]);
    assert.deepEqual(
      kept.map((m) => m.name),
      ['app_tsgund_x'],
    );
    assert.deepEqual(reserved, ['tsgund_workers']);
  });
});

/** Timers fired by the test: `fire()` runs the pending timeout. */
function handTimers(): CollectorTimers & { fire(): void; armed(): number } {
  const pending = new Map<number, () => void>();
  let next = 0;
  return {
    set: (fn) => {
      pending.set(++next, fn);
      return next;
    },
    clear: (t) => pending.delete(t as number),
    fire: () => {
      for (const [t, fn] of pending) {
        pending.delete(t);
        fn();
      }
    },
    armed: () => pending.size,
  };
}

function peers(...pids: number[]): { list: MetricsPeer[]; asked: Map<number, number[]> } {
  const asked = new Map<number, number[]>();
  const list = pids.map((pid) => ({
    pid,
    send: (msg: { type: string; requestId: number }) => {
      assert.equal(msg.type, METRICS_REQUEST);
      asked.set(pid, [...(asked.get(pid) ?? []), msg.requestId]);
    },
  }));
  return { list, asked };
}

/** A collector driven by `timers`, in a master where nothing else listens to the workers (unless `blocked`). */
function collector(timers: CollectorTimers, warn: (m: string) => void = () => {}, blocked = false) {
  const c = new AppMetricsCollector(warn, 1000, timers, () => blocked);
  return {
    onAnswer: (pid: number, msg: unknown) => c.onAnswer(pid, msg),
    forget: (pid: number) => c.forget(pid),
    raw: (list: MetricsPeer[]) => c.collect(list),
    /** collect(), which must not be refused here */
    collect: async (list: MetricsPeer[]): Promise<AppScrape> => {
      const scrape = await c.collect(list);
      assert.ok(scrape);
      return scrape;
    },
  };
}

describe('AppMetricsCollector', () => {
  it('resolves once every worker answered, each scrape with its own requestId', async () => {
    const timers = handTimers();
    const c = collector(timers);
    const { list, asked } = peers(11, 12);
    const first = c.collect(list);
    const second = c.collect(list);
    const [id1, id2] = asked.get(11)!;
    assert.notEqual(id1, id2);
    c.onAnswer(11, await workerAnswer(1, id1));
    c.onAnswer(12, await workerAnswer(2, id2)); // belongs to the second scrape
    c.onAnswer(12, await workerAnswer(5, id1));
    c.onAnswer(11, await workerAnswer(6, id2));
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual([a.asked, a.answered, b.asked, b.answered], [2, 2, 2, 2]);
    const total = (s: typeof a) =>
      s.answers
        .flat()
        .filter((m) => m.name === 'app_requests_total')
        .reduce((sum, m) => sum + m.values[0]!.value, 0);
    assert.deepEqual([total(a), total(b)], [1 + 5, 2 + 6], 'each answer went to its own scrape');
    assert.equal(timers.armed(), 0, 'no timer left behind');
  });

  it('leaves out a worker that misses the timeout, and waits for it again once it answers', async () => {
    const timers = handTimers();
    const c = collector(timers);
    const { list, asked } = peers(11, 12);
    const first = c.collect(list);
    c.onAnswer(11, await workerAnswer(1, asked.get(11)![0]));
    timers.fire();
    assert.deepEqual(await first, { answers: [(await first).answers[0]], asked: 2, answered: 1 });
    // 12 is late now: the next scrape does not wait for it
    const second = c.collect(list);
    c.onAnswer(11, await workerAnswer(1, asked.get(11)![1]));
    assert.equal((await second).answered, 1);
    assert.equal(timers.armed(), 0);
    // its answer to the first scrape arrives at last: waited for again
    c.onAnswer(12, await workerAnswer(1, asked.get(12)![0]));
    const third = c.collect(list);
    c.onAnswer(11, await workerAnswer(1, asked.get(11)![2]));
    assert.equal(timers.armed(), 1, 'waits for 12');
    c.onAnswer(12, await workerAnswer(1, asked.get(12)![2]));
    assert.equal((await third).answered, 2);
  });

  it('ignores answers nobody asked for, and drops malformed ones with one warning per worker', async () => {
    const warnings: string[] = [];
    const c = collector(handTimers(), (m) => warnings.push(m));
    const { list, asked } = peers(11, 12);
    c.onAnswer(11, await workerAnswer(1, 999)); // never asked
    const scrape = c.collect(list);
    const id = asked.get(11)![0]!;
    c.onAnswer(13, await workerAnswer(1, id)); // not asked in this scrape
    c.onAnswer(11, answer([[metric({ name: 'bad name' })]], id));
    c.onAnswer(11, await workerAnswer(1, id)); // a second answer to the same request
    c.forget(12); // exited
    const s = await scrape;
    assert.deepEqual([s.asked, s.answered], [2, 0]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /worker 11: answer dropped: metric name "bad name" is not a valid name/);
  });

  it('does not wait when there is nobody to ask', async () => {
    const timers = handTimers();
    const c = collector(timers);
    assert.deepEqual(await c.collect([]), { answers: [], asked: 0, answered: 0 });
    const closed: MetricsPeer = {
      pid: 1,
      send: () => {
        throw new Error('channel closed');
      },
    };
    assert.deepEqual(await c.collect([closed]), { answers: [], asked: 0, answered: 0 });
    assert.equal(timers.armed(), 0);
  });

  it('asks nobody while app code in the master listens to the workers, with one warning', async () => {
    const warnings: string[] = [];
    const c = collector(handTimers(), (m) => warnings.push(m), true);
    const { list, asked } = peers(11);
    assert.equal(await c.raw(list), null);
    assert.equal(await c.raw(list), null);
    assert.equal(asked.size, 0);
    assert.deepEqual(warnings, [
      "app metrics are not collected: app code in the master listens to the workers' messages",
    ]);
  });
});

const SNAPSHOT: StatusSnapshot = {
  name: 'tsgund',
  pid: 1,
  app: 'app.js',
  generation: 1,
  targetWorkers: 2,
  state: 'running',
  uptimeMs: 0,
  rss: 0,
  logs: { errorlog: '-', accesslog: null },
  restarts: 0,
  listeners: [],
  workers: [],
};

describe('MasterMetrics with the app metrics', () => {
  it('aggregates the answers as AggregatorRegistry does, after its own, and counts who answered', async () => {
    const warnings: string[] = [];
    const m = new MasterMetrics((w) => warnings.push(w));
    const answers = await Promise.all([workerAnswer(4), workerAnswer(6)]);
    const parsed = answers.map((a) => parseMetricsAnswer(a)).map((p) => (p.ok ? p.metrics : []));
    parsed[0]!.push(metric({ name: 'tsgund_workers' }) as AppMetric);
    const text = await m.render(SNAPSHOT, { answers: parsed, asked: 3, answered: 2 });
    const lines = text.split('\n');
    assert.ok(lines.includes('app_requests_total 10'), 'counters summed');
    assert.ok(lines.includes('app_up 2'), 'gauges summed by default');
    assert.ok(lines.includes('app_lag 0.6'), "the metric's own aggregator");
    assert.ok(!text.includes('app_started'), 'omitted');
    assert.ok(lines.includes('tsgund_app_metrics_workers{answered="yes"} 2'));
    assert.ok(lines.includes('tsgund_app_metrics_workers{answered="no"} 1'));
    assert.ok(text.indexOf('tsgund_generation') < text.indexOf('app_requests_total'), "tsgund's first");
    assert.equal(lines.filter((l) => l.startsWith('# TYPE tsgund_workers ')).length, 1, "tsgund's own wins");
    assert.ok(!lines.some((l) => l.startsWith('tsgund_workers 1')));
    assert.deepEqual(warnings, ["app metrics named like tsgund's own are left out (tsgund's win): tsgund_workers"]);
    await m.render(SNAPSHOT, { answers: parsed, asked: 2, answered: 2 });
    assert.equal(warnings.length, 1, 'warned once');

    const status = await m.appStatus({ answers: parsed, asked: 2, answered: 2 });
    assert.deepEqual(status.workers, { asked: 2, answered: 2 });
    assert.deepEqual(status.metrics.find((x) => x.name === 'app_requests_total')?.values, [{ value: 10, labels: {} }]);
  });

  it('renders only its own metrics when nothing was collected', async () => {
    const text = await new MasterMetrics().render(SNAPSHOT, null);
    assert.ok(text.includes('tsgund_app_metrics_workers{answered="yes"} 0'));
    assert.ok(!text.includes('app_requests_total'));
  });
});
