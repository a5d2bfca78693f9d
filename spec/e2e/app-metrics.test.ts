// The app's own prom-client metrics on --stats-bind /metrics and in
// `status --json`, aggregated over the workers: real prom-client in the app
// (spec/fixtures/prom-client-app.cjs), the real binary, real sockets.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { cli } from '../support/exec.js';
import { FIXTURES, HELLO, cleanup, freePort, request, run, tempDir, waitFor, type Proc } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const APP = join(FIXTURES, 'prom-client-app.cjs');
const CLUSTER_APP = join(FIXTURES, 'prom-client-aggregator-app.cjs');

interface Server {
  proc: Proc;
  url: string;
  stats: string;
  pidfile: string;
  dir: string;
}

async function start(app: string, extra: string[] = []): Promise<Server> {
  const dir = tempDir('tsgund-app-metrics-');
  dirs.push(dir);
  const [port, statsPort] = [await freePort(), await freePort()];
  const pidfile = join(dir, 'app.pid');
  const proc = run([
    'start',
    app,
    '-w',
    '2',
    '-b',
    `127.0.0.1:${port}`,
    '--stats-bind',
    `127.0.0.1:${statsPort}`,
    '-p',
    pidfile,
    ...extra,
  ]);
  await proc.line(/Booted 2 worker/, 15_000);
  return { proc, url: `http://127.0.0.1:${port}`, stats: `http://127.0.0.1:${statsPort}`, pidfile, dir };
}

/** One scrape: its lines, and how long it took. */
async function scrape(s: Server): Promise<{ lines: string[]; ms: number }> {
  const t0 = performance.now();
  const reply = await request(s.stats + '/metrics');
  assert.equal(reply.status, 200, reply.body);
  return { lines: reply.body.split('\n'), ms: performance.now() - t0 };
}

const answered = (lines: string[], yes: number, no: number): boolean =>
  lines.includes(`tsgund_app_metrics_workers{answered="yes"} ${yes}`) &&
  lines.includes(`tsgund_app_metrics_workers{answered="no"} ${no}`);

/** Send fresh connections until both workers have answered some; returns how many requests were sent. */
async function spreadRequests(url: string, atLeast: number): Promise<number> {
  const pids = new Set<string>();
  let sent = 0;
  while (sent < atLeast || pids.size < 2) {
    const replies = await Promise.all(Array.from({ length: 10 }, () => request(url + '/')));
    for (const r of replies) pids.add(r.body.trim());
    sent += replies.length;
    assert.ok(sent < 2000, 'both workers answer within 2000 requests');
  }
  return sent;
}

describe("the app's prom-client metrics", () => {
  it('are summed over the workers on /metrics and in status --json', async () => {
    const s = await start(APP);
    const n = await spreadRequests(s.url, 40);
    const { lines } = await scrape(s);
    assert.ok(lines.includes(`app_requests_total ${n}`), `app_requests_total ${n} in:\n${lines.join('\n')}`);
    assert.ok(lines.includes('app_workers 2'), 'a gauge set to 1 in each worker, summed');
    assert.ok(answered(lines, 2, 0));
    // prom-client's default metrics, each by its own aggregator
    assert.ok(lines.includes('# TYPE process_cpu_user_seconds_total counter'));
    assert.ok(lines.some((l) => /^nodejs_heap_size_used_bytes \d+/.test(l)));
    assert.ok(
      lines.some((l) => /^nodejs_version_info\{version="v[\d.]+",.*\} 1$/.test(l)),
      'first',
    );
    assert.ok(!lines.some((l) => l.startsWith('process_start_time_seconds')), 'omit');
    // the app's own tsgund_workers clashes with tsgund's: tsgund's wins, once, with a warning
    assert.equal(lines.filter((l) => l.startsWith('# TYPE tsgund_workers ')).length, 1);
    assert.ok(lines.includes('tsgund_workers{state="ready"} 2'));
    assert.ok(!lines.some((l) => l.startsWith('tsgund_workers 999')));
    await s.proc.line(/WARNING\] app metrics named like tsgund's own are left out \(tsgund's win\): tsgund_workers/);

    const done = await cli(['status', '-p', s.pidfile, '--json']);
    assert.equal(done.code, 0, done.stderr);
    const status = JSON.parse(done.stdout) as StatusSnapshot;
    assert.deepEqual(status.appMetrics?.workers, { asked: 2, answered: 2 });
    const counter = status.appMetrics?.metrics.find((m) => m.name === 'app_requests_total');
    assert.deepEqual(counter && { type: counter.type, values: counter.values }, {
      type: 'counter',
      values: [{ value: n, labels: {} }],
    });
    // the table does not wait for the workers
    const table = await cli(['status', '-p', s.pidfile]);
    assert.equal(table.code, 0, table.stderr);
  });

  it('leave out a worker that cannot answer in time, and the scrape still answers', async () => {
    const s = await start(APP);
    const n = await spreadRequests(s.url, 20);
    const mark = join(s.dir, 'blocking');
    // one worker busy-loops for 4 s; the master waits 1 s for it
    const blocked = request(`${s.url}/block?s=4&mark=${mark}`);
    await waitFor(() => existsSync(mark), 'the worker to start blocking');
    const first = await scrape(s);
    assert.ok(answered(first.lines, 1, 1), first.lines.join('\n'));
    assert.ok(first.ms < 3000, `the scrape took ${first.ms} ms`);
    assert.ok(first.lines.includes('app_workers 1'));
    const count = Number(first.lines.find((l) => l.startsWith('app_requests_total '))?.split(' ')[1]);
    assert.ok(count > 0 && count < n, `one worker's share of ${n}: ${count}`);
    // still left out while it stays silent (the unit tests show it is not waited for again)
    assert.ok(answered((await scrape(s)).lines, 1, 1));
    // once it is back, its late answer puts it back in
    await blocked;
    const back = await waitFor(async () => {
      const { lines } = await scrape(s);
      return answered(lines, 2, 0) ? lines : null;
    }, 'both workers answering again');
    assert.ok(back.includes(`app_requests_total ${n}`));
  });

  it('are an empty answer from each worker of an app without prom-client, not a wait', async () => {
    const s = await start(HELLO);
    const { lines } = await scrape(s);
    assert.ok(answered(lines, 2, 0), lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith('process_cpu_user_seconds_total')));
  });

  it('come from an app that creates its own AggregatorRegistry, and never crash a master it was preloaded in', async () => {
    const s = await start(CLUSTER_APP);
    const n = await spreadRequests(s.url, 20);
    const { lines } = await scrape(s);
    assert.ok(answered(lines, 2, 0), lines.join('\n'));
    assert.ok(lines.includes(`app_requests_total ${n}`));

    // preloaded, the app's registry listens to the workers' messages in the master too
    const p = await start(CLUSTER_APP, ['--preload']);
    for (let i = 0; i < 2; i++) assert.ok(answered((await scrape(p)).lines, 0, 0));
    await p.proc.line(/WARNING\] app metrics are not collected: app code in the master listens/);
    assert.equal(p.proc.count(/app metrics are not collected/), 1);
    assert.equal((await request(p.url + '/')).status, 200);
  });
});
