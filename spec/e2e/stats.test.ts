// statsBind: the master's /healthz, /readyz and /metrics listener, driven with
// the real binary, real signals and real sockets.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  HELLO,
  cleanup,
  freePort,
  isRunning,
  request,
  run,
  tempDir,
  track,
  waitFor,
  workersOf,
  type Proc,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An app in a temp dir: /status/NNN answers NNN, /slow?ms=N waits (and first
 * creates the file named by &mark=, so a test knows the request is in flight),
 * anything else 200 with the pid.
 */
function appDir(): { dir: string; app: string; breakApp: () => void; fixApp: () => void } {
  const dir = tempDir('tsgund-stats-');
  dirs.push(dir);
  const app = join(dir, 'app.js');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const good = `import { writeFileSync } from 'node:fs';
export default (req, res) => {
  const url = new URL(req.url, 'http://x');
  const status = /^\\/status\\/(\\d{3})$/.exec(url.pathname);
  if (status) { res.statusCode = Number(status[1]); return res.end('status ' + status[1] + '\\n'); }
  if (url.searchParams.has('mark')) writeFileSync(url.searchParams.get('mark'), '');
  if (url.pathname === '/slow') return setTimeout(() => res.end('slow ' + process.pid + '\\n'), Number(url.searchParams.get('ms')));
  res.end(process.pid + '\\n');
};
`;
  const fixApp = () => writeFileSync(app, good);
  fixApp();
  return { dir, app, fixApp, breakApp: () => writeFileSync(app, "throw new Error('app broken on purpose');\n") };
}

interface Server {
  proc: Proc;
  url: string;
  stats: string;
}

async function start(args: string[], cwd?: string): Promise<Server> {
  const [port, statsPort] = [await freePort(), await freePort()];
  const proc = run(
    ['start', ...args, '-b', `127.0.0.1:${port}`, '--stats-bind', `127.0.0.1:${statsPort}`],
    cwd ? { cwd } : {},
  );
  await proc.line(/Booted \d+ worker/, 15_000);
  return { proc, url: `http://127.0.0.1:${port}`, stats: `http://127.0.0.1:${statsPort}` };
}

/** /metrics parsed into `series -> value`, the series written as in the exposition. */
async function metrics(stats: string): Promise<Map<string, number>> {
  const reply = await request(stats + '/metrics');
  assert.equal(reply.status, 200, reply.body);
  const out = new Map<string, number>();
  for (const line of reply.body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

const status = async (url: string): Promise<number> => (await request(url)).status;

/** Wait until series `name` reaches `value` (and return the whole scrape). */
const metricIs = (stats: string, name: string, value: number, timeoutMs = 10_000) =>
  waitFor(
    async () => ((await metrics(stats)).get(name) === value ? metrics(stats) : null),
    `${name} == ${value}`,
    timeoutMs,
    100,
  );

const REQ = (c: string) => `tsgund_http_requests_total{status_class="${c}"}`;
const RESTARTS = (c: string) => `tsgund_worker_restarts_total{cause="${c}"}`;
const RELOADS = (r: string) => `tsgund_reloads_total{result="${r}"}`;
const HIST = 'tsgund_http_request_duration_seconds';

describe('--stats-bind /metrics', () => {
  it('counts exactly the requests sent, by status class, across two workers', async () => {
    const { dir, app } = appDir();
    const s = await start([app, '-w', '2'], dir);
    const plan = [
      ...Array<string>(200).fill('/'),
      ...Array<string>(80).fill('/status/404'),
      ...Array<string>(20).fill('/status/503'),
    ];
    // a mix of fresh and keep-alive connections, 20 at a time
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    const seen = new Map<number, number>();
    for (let i = 0; i < plan.length; i += 20) {
      const replies = await Promise.all(
        plan.slice(i, i + 20).map((path, j) => request(s.url + path, j % 2 ? { agent } : {})),
      );
      for (const r of replies) seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
    }
    agent.destroy();
    assert.deepEqual([...seen].sort(), [
      [200, 200],
      [404, 80],
      [503, 20],
    ]);
    // deltas arrive with the heartbeats (every second at most)
    await metricIs(s.stats, REQ('2xx'), 200);
    await metricIs(s.stats, REQ('4xx'), 80);
    await metricIs(s.stats, REQ('5xx'), 20);
    await sleep(1500); // two more heartbeats: nothing counted twice
    const m = await metrics(s.stats);
    assert.equal(m.get(REQ('2xx')), 200);
    assert.equal(m.get(REQ('4xx')), 80);
    assert.equal(m.get(REQ('5xx')), 20);
    assert.equal(m.get(REQ('1xx')), 0);
    assert.equal(m.get(REQ('3xx')), 0);
    assert.equal(m.get(`${HIST}_count`), 300);
    assert.equal(m.get(`${HIST}_bucket{le="+Inf"}`), 300);
    assert.ok(m.get(`${HIST}_sum`)! > 0);
    const buckets = [...m].filter(([k]) => k.startsWith(`${HIST}_bucket`)).map(([, v]) => v);
    assert.ok(buckets.length > 8 && buckets.every((v, i) => i === 0 || v >= buckets[i - 1]!), 'cumulative buckets');
    // the other series are there too
    assert.equal(m.get('tsgund_workers{state="ready"}'), 2);
    assert.equal(m.get('tsgund_workers{state="booting"}'), 0);
    assert.equal(m.get('tsgund_generation'), 1);
    const rss = [...m].filter(([k]) => k.startsWith('tsgund_worker_resident_memory_bytes{pid='));
    assert.deepEqual(rss.map(([k]) => Number(/pid="(\d+)"/.exec(k)![1])).sort(), workersOf(s.proc.pid));
    assert.ok(rss.every(([, v]) => v > 1e6));
    assert.ok(
      m.get('tsgund_master_process_resident_memory_bytes')! > 1e6,
      'default process metrics of the master, prefixed',
    );
    assert.ok(m.has('tsgund_master_nodejs_eventloop_lag_seconds'));
    const reply = await request(s.stats + '/metrics');
    assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    s.proc.kill('SIGQUIT');
    assert.equal((await s.proc.exit).code, 0);
  });

  it('does not lose the last requests of a worker that exits gracefully', async () => {
    // the request ends while its worker drains (HUP), and the worker exits right
    // after: only the delta sent on the way out can carry it
    const { dir, app } = appDir();
    const s = await start([app, '-w', '1'], dir);
    const mark = join(dir, 'in-flight');
    const slow = request(`${s.url}/slow?ms=1500&mark=${mark}`);
    slow.catch(() => {}); // awaited below
    await waitFor(() => existsSync(mark), 'the slow request in flight');
    s.proc.kill('SIGHUP');
    await s.proc.line(/Reloaded: generation 2/);
    assert.equal((await slow).status, 200);
    await s.proc.line(/Worker exiting/);
    const m = await metricIs(s.stats, REQ('2xx'), 1);
    assert.equal(m.get(`${HIST}_count`), 1);
    assert.ok(m.get(`${HIST}_sum`)! >= 1.4, `the slow request took 1.5 s (sum ${m.get(`${HIST}_sum`)})`);
    assert.equal(m.get(`${HIST}_bucket{le="1"}`), 0);
    assert.equal(m.get(`${HIST}_bucket{le="2.5"}`), 1);
    s.proc.kill('SIGQUIT');
    await s.proc.exit;
  });

  it('counts reloads by result and worker restarts by cause', async () => {
    const { dir, app } = appDir();
    const config = join(dir, 'tsgund.config.json');
    writeFileSync(config, JSON.stringify({ workers: 2 }));
    const s = await start([app], dir);
    let m = await metrics(s.stats);
    for (const r of ['ok', 'failed']) assert.equal(m.get(RELOADS(r)), 0);
    for (const c of ['crash', 'unexpected_exit', 'timeout', 'max_requests', 'max_memory', 'signal'])
      assert.equal(m.get(RESTARTS(c)), 0);

    writeFileSync(config, JSON.stringify({ workers: 'many' }));
    s.proc.kill('SIGHUP');
    await s.proc.line(/reload failed, keeping the running workers/);
    m = await metrics(s.stats);
    assert.equal(m.get(RELOADS('failed')), 1);
    assert.equal(m.get(RELOADS('ok')), 0);
    assert.equal(m.get('tsgund_generation'), 1);

    writeFileSync(config, JSON.stringify({ workers: 2 }));
    s.proc.kill('SIGHUP');
    await s.proc.line(/Reloaded: generation 2/);
    m = await metrics(s.stats);
    assert.equal(m.get(RELOADS('ok')), 1);
    assert.equal(m.get(RELOADS('failed')), 1);
    assert.equal(m.get('tsgund_generation'), 2);

    await waitFor(() => workersOf(s.proc.pid).length === 2, 'the old generation gone');
    process.kill(workersOf(s.proc.pid)[0]!, 'SIGKILL');
    await metricIs(s.stats, RESTARTS('crash'), 1);
    await waitFor(
      async () => (await metrics(s.stats)).get('tsgund_workers{state="ready"}') === 2,
      'the replacement ready',
    );
    m = await metrics(s.stats);
    assert.equal(m.get(RESTARTS('timeout')), 0);
    s.proc.kill('SIGQUIT');
    await s.proc.exit;
  });

  it('counts max_requests recycles and WORKER TIMEOUT aborts apart from crashes', async () => {
    const { dir, app } = appDir();
    const recycled = await start([app, '-w', '1', '--max-requests', '10'], dir);
    for (let i = 0; i < 25; i++) assert.equal(await status(recycled.url + '/'), 200);
    await metricIs(recycled.stats, RESTARTS('max_requests'), 2);
    await metricIs(recycled.stats, REQ('2xx'), 25);
    assert.equal((await metrics(recycled.stats)).get(RESTARTS('crash')), 0);
    recycled.proc.kill('SIGQUIT');

    const hung = await start([join(FIXTURES, 'blocking-app.js'), '-w', '1', '-t', '1']);
    request(hung.url + '/block?s=5').catch(() => {});
    await hung.proc.line(/WORKER TIMEOUT/, 5000);
    const m = await metricIs(hung.stats, RESTARTS('timeout'), 1);
    assert.equal(m.get(RESTARTS('crash')), 0);
    hung.proc.kill('SIGQUIT');
    await Promise.all([recycled.proc.exit, hung.proc.exit]);
  });

  it('refuses to start, in one line and with exit code 1, when the stats address is taken', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    const taken = (busy.address() as net.AddressInfo).port;
    const proc = run(['start', HELLO, '-b', `127.0.0.1:${await freePort()}`, '--stats-bind', `127.0.0.1:${taken}`]);
    const { code } = await proc.exit;
    busy.close();
    assert.equal(code, 1, proc.output);
    assert.match(
      proc.output,
      new RegExp(
        `tsgund: cannot bind the stats listener 127\\.0\\.0\\.1:${taken} \\(stats-bind\\): address already in use \\(EADDRINUSE\\)`,
      ),
    );
    assert.doesNotMatch(proc.output, /Booting worker/, 'no worker started');
  });

  it('caps its connections and closes idle ones: the master keeps a bounded number of descriptors', {
    timeout: 60_000,
  }, async () => {
    const { proc, stats } = await start(['-w', '1', HELLO]);
    const fds = () => readdirSync(`/proc/${proc.pid}/fd`).length;
    const before = fds();
    const { port } = new URL(stats);
    const IDLE = 300;
    let closed = 0;
    let answered408 = 0;
    await Promise.all(
      Array.from(
        { length: IDLE },
        () =>
          new Promise<void>((resolve, reject) => {
            // connects and then says nothing, or half a request line
            const sock = net.connect(Number(port), '127.0.0.1', () => resolve());
            sock.once('connect', () => sock.write('GET /metr'));
            sock.on('data', (d) => {
              if (d.toString().startsWith('HTTP/1.1 408 ')) answered408++;
            });
            sock.on('error', () => {});
            sock.on('close', () => closed++);
            sock.once('error', reject);
          }),
      ),
    );
    // those over the cap are closed at once
    await waitFor(
      () => closed >= IDLE - 64,
      () => `connections over the cap closed (${closed})`,
    );
    const held = fds() - before;
    assert.ok(held <= 64 + 8, `the master holds ${held} more descriptors`);
    // a probe still gets through at once: it takes the place of the oldest idle connection
    const probe0 = Date.now();
    const probe = await fetch(`${stats}/healthz`);
    assert.equal(probe.status, 200, 'a health probe is answered while idle connections fill the cap');
    assert.ok(Date.now() - probe0 < 1000, `the probe took ${Date.now() - probe0} ms`);
    // the rest within the 5 s headers timeout (+ 1 s for the check)
    const t0 = Date.now();
    await waitFor(
      () => closed === IDLE,
      () => `idle connections closed (${closed} of ${IDLE})`,
      20_000,
    );
    assert.ok(Date.now() - t0 < 9000, `idle connections lived ${Date.now() - t0} ms more`);
    assert.ok(answered408 > 0, 'a timed-out request is answered 408');
    await waitFor(
      () => fds() <= before + 2,
      () => `descriptors back to ${before} (${fds()})`,
    );
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
  });

  it('serves on a unix socket too, and removes it at exit', async () => {
    const dir = tempDir('tsgund-stats-');
    dirs.push(dir);
    const sock = join(dir, 'stats.sock');
    const proc = run([
      'start',
      HELLO,
      '-w',
      '1',
      '-b',
      `127.0.0.1:${await freePort()}`,
      '--stats-bind',
      `unix:${sock}`,
    ]);
    await proc.line(/Booted 1 worker/, 15_000);
    assert.equal((await request('http://localhost/healthz', { socketPath: sock })).body, 'ok\n');
    assert.equal((await request('http://localhost/nothing', { socketPath: sock })).status, 404);
    assert.equal((await request('http://localhost/metrics', { socketPath: sock, method: 'POST' })).status, 405);
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
    assert.equal(existsSync(sock), false);
  });
});

describe('--stats-bind /healthz and /readyz', () => {
  it('200 at steady state; /readyz 503 while TERM drains a slow request', async () => {
    const { dir, app } = appDir();
    const s = await start([app, '-w', '2', '--graceful-timeout', '10'], dir);
    const healthz = await request(s.stats + '/healthz');
    assert.deepEqual([healthz.status, healthz.body], [200, 'ok\n']);
    assert.equal(await status(s.stats + '/readyz'), 200);
    const mark = join(dir, 'in-flight');
    const slow = request(`${s.url}/slow?ms=2500&mark=${mark}`);
    slow.catch(() => {}); // awaited below
    await waitFor(() => existsSync(mark), 'the slow request in flight');
    s.proc.kill('SIGTERM');
    const during = await waitFor(async () => {
      const r = await request(s.stats + '/readyz');
      return r.status === 503 ? r : null;
    }, '/readyz 503 during the drain');
    assert.match(during.body, /shutting down/);
    assert.equal(await status(s.stats + '/healthz'), 503, 'no worker is ready while they all drain');
    assert.ok(isRunning(s.proc.pid), 'still draining');
    assert.equal((await slow).status, 200, 'the slow request finished');
    assert.equal((await s.proc.exit).code, 0);
    await assert.rejects(request(s.stats + '/healthz'), /ECONNREFUSED/, 'the stats listener is closed at exit');
  });

  it('daemonized: 503 after WINCH until HUP brings workers back, also when that HUP fails', async () => {
    const { dir, app, breakApp, fixApp } = appDir();
    const pidfile = join(dir, 'app.pid');
    const errorLog = join(dir, 'error.log');
    const [port, statsPort] = [await freePort(), await freePort()];
    const stats = `http://127.0.0.1:${statsPort}`;
    const daemon = run(
      [
        'start',
        app,
        '-D',
        '-p',
        pidfile,
        '-w',
        '2',
        '-b',
        `127.0.0.1:${port}`,
        '--stats-bind',
        `127.0.0.1:${statsPort}`,
        '--error-logfile',
        errorLog,
      ],
      { cwd: dir },
    );
    const { code } = await daemon.exit;
    const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0;
    if (pid) track(pid);
    assert.equal(code, 0, daemon.output);
    const logged = (re: RegExp) => re.test(readFileSync(errorLog, 'utf8'));
    const countLogged = (re: RegExp) =>
      readFileSync(errorLog, 'utf8')
        .split('\n')
        .filter((l) => re.test(l)).length;
    assert.equal(await status(stats + '/readyz'), 200);

    // a HUP with a broken app keeps the old generation serving: /readyz stays 200 throughout
    breakApp();
    process.kill(pid, 'SIGHUP');
    const seen = new Set<number>();
    while (!logged(/reload failed, the running workers keep serving/)) {
      seen.add(await status(stats + '/readyz'));
      await sleep(20);
    }
    assert.deepEqual([...seen], [200]);
    fixApp();

    process.kill(pid, 'SIGWINCH');
    const paused = await waitFor(async () => {
      const r = await request(stats + '/readyz');
      return r.status === 503 ? r : null;
    }, '/readyz 503 after WINCH');
    assert.match(paused.body, /paused by WINCH/);
    await waitFor(() => workersOf(pid).length === 0, 'all workers stopped');
    assert.equal(await status(stats + '/healthz'), 503);
    assert.equal((await metrics(stats)).get('tsgund_workers{state="ready"}'), 0);

    process.kill(pid, 'SIGHUP');
    await waitFor(async () => (await status(stats + '/readyz')) === 200, '/readyz 200 after HUP');
    assert.equal(await status(stats + '/healthz'), 200);
    assert.equal(await status(`http://127.0.0.1:${port}/`), 200);

    // WINCH, break the app, HUP: the reload fails and nothing serves, so 503 stays
    process.kill(pid, 'SIGWINCH');
    await waitFor(async () => (await status(stats + '/readyz')) === 503, '/readyz 503 after the second WINCH');
    await waitFor(() => workersOf(pid).length === 0, 'all workers stopped again');
    breakApp();
    const failedBefore = countLogged(/reload failed/);
    process.kill(pid, 'SIGHUP');
    await waitFor(() => countLogged(/reload failed/) > failedBefore, 'the failed reload logged');
    for (let i = 0; i < 10; i++) {
      assert.equal(await status(stats + '/readyz'), 503);
      assert.equal(await status(stats + '/healthz'), 503);
      await sleep(100);
    }
    const m = await metrics(stats);
    assert.equal(m.get(RELOADS('failed')), 2);
    assert.equal(m.get(RELOADS('ok')), 1);

    fixApp();
    process.kill(pid, 'SIGHUP');
    await waitFor(async () => (await status(stats + '/readyz')) === 200, '/readyz 200 after a good HUP', 15_000);
    assert.equal((await metrics(stats)).get(RELOADS('ok')), 2);
    process.kill(pid, 'SIGQUIT');
    await waitFor(() => !isRunning(pid), 'daemon to stop');
  });
});
