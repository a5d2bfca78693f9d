// Reload under load: tsgund (SIGHUP) vs PM2 cluster mode (`pm2 reload`), both
// serving examples/hello.js with 2 workers, in the same run. A Node load
// generator (keep-alive loops + a new connection per request, like
// spec/support/load.ts) runs while RELOADS reloads happen one after another:
//
//   tsgund: SIGHUP to the master, wait for its log line `Reloaded: generation N`;
//           timed from its `Handling signal: HUP` line by the master's own clock
//   pm2:    `pm2 reload <name>`, wait for the command to return
//
// and the requests that succeeded / failed from 1 s before the first reload to
// 1 s after the last one are reported, with the average time per reload, as a
// Markdown table on stdout and in docs/benchmarks.md (progress on stderr).
//
//   node scripts/bench/reload.mjs
//   RELOADS=5 node scripts/bench/reload.mjs
//
// Env knobs:
//   RELOADS    reloads per server (default 20)
//   WORKERS    workers per server (default 2)
//   KEEPALIVE  keep-alive request loops (default 8)
//   FRESH      connection-per-request loops (default 4)
//   APP        app module (default examples/hello.js; needs its /pid route)
//   PM2_BIN    pm2 executable (default node_modules/.bin/pm2; skipped if absent)
//   PM2_APP_SHUTDOWN  graceful (default): the PM2 app does server.close() on
//              SIGINT, the pattern PM2's docs show; abrupt: it also closes every
//              connection at once (scripts/bench/single.mjs without GRACEFUL=1)
//   BENCH_PAGE results page (default docs/benchmarks.md, section reload;
//              none = do not write it)
//
// PM2 runs with PM2_HOME in a temp dir (never ~/.pm2), with its default
// kill_timeout (1600 ms), and its daemon is always stopped with `pm2 kill`,
// also on Ctrl-C or error. tsgund runs in the foreground in its own process
// group and is stopped by pid (QUIT, then SIGKILL to the group).

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Load } from './load.mjs';
import { guardExit } from './exit-guard.mjs';
import { Pm2 } from './pm2.mjs';
import { processAlive, processTree } from './proc.mjs';
import { freePort } from './ports.mjs';
import { writeSection } from './results-page.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RELOADS = Number(process.env.RELOADS ?? 20);
const WORKERS = String(Number(process.env.WORKERS ?? 2));
const KEEPALIVE = Number(process.env.KEEPALIVE ?? 8);
const FRESH = Number(process.env.FRESH ?? 4);
const APP = process.env.APP ?? 'examples/hello.js';
const PM2_BIN = process.env.PM2_BIN ?? path.join(root, 'node_modules/.bin/pm2');
const PM2_SHUTDOWN = process.env.PM2_APP_SHUTDOWN ?? 'graceful';
const TSGUND = path.join(root, 'dist/lib/cli/main.js');
if (!['graceful', 'abrupt'].includes(PM2_SHUTDOWN))
  throw new Error(`PM2_APP_SHUTDOWN: graceful or abrupt, not "${PM2_SHUTDOWN}"`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-reload-bench-'));
const pm2 = new Pm2(PM2_BIN, path.join(tmp, 'pm2-home'), root);
const log = (msg) => console.error(`[reload] ${msg}`);

const guard = guardExit({ tmp, log, lastResort: () => pm2.killSync() });
const { cleanups } = guard;

async function waitUntil(pred, ms, what) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (await pred()) return;
  if (await pred()) return;
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const stats = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { avg: xs.reduce((a, b) => a + b, 0) / xs.length, max: sorted.at(-1), min: sorted[0] };
};

/**
 * Drive one server: `reloadOnce(i)` performs reload i (1-based) and resolves
 * when it is complete. Returns the row for the table.
 */
async function underLoad(name, url, reloadOnce) {
  const load = new Load(url, { keepAlive: KEEPALIVE, fresh: FRESH, path: '/pid' });
  guard.load = load;
  await load.flowing(200, 15_000);
  await sleep(1000);
  const windowStart = performance.now() - 1000;
  const before = load.snapshot();
  const pidsBefore = load.bodies.size;
  const times = [];
  for (let i = 1; i <= RELOADS; i++) {
    if (guard.interrupted) throw new Error('interrupted');
    const t0 = performance.now();
    const measured = await reloadOnce(i);
    times.push(measured ?? performance.now() - t0);
    log(
      `${name}: reload ${i}/${RELOADS} in ${times.at(-1).toFixed(0)} ms (so far ${load.ok - before.ok} ok, ${load.failed - before.failed} failed)`,
    );
  }
  await sleep(1000);
  const after = load.snapshot();
  const seconds = (performance.now() - windowStart) / 1000;
  const errors = load.describeErrors();
  const pids = load.bodies.size - pidsBefore;
  await load.stop();
  guard.load = null;
  return {
    name,
    ok: after.ok - before.ok,
    failed: after.failed - before.failed,
    errors,
    pids,
    seconds,
    ...stats(times),
  };
}

// ---------------------------------------------------------------- tsgund

async function benchTsgund() {
  const port = await freePort();
  const out = fs.createWriteStream(path.join(tmp, 'tsgund.log'));
  const pidfile = path.join(tmp, 'tsgund.pid');
  const child = spawn(
    process.execPath,
    // JSON lines carry the master's own millisecond timestamps, which time each reload
    [TSGUND, 'start', APP, '-w', WORKERS, '-b', `127.0.0.1:${port}`, '-p', pidfile, '--log-format', 'json'],
    {
      cwd: root,
      env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: a terminal Ctrl-C reaches only us
    },
  );
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async () => {
    if (!exited()) {
      child.kill('SIGQUIT');
      await waitUntil(exited, 5000, 'tsgund to exit').catch(() => {});
    }
    if (processAlive(-child.pid)) {
      log(`tsgund process group ${child.pid} has stragglers: SIGKILL`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }
  };
  stop.sync = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  };
  cleanups.add(stop);
  const lines = [];
  let partial = '';
  const collect = (d) => {
    out.write(d);
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    lines.push(...parts);
  };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);
  const failure = () => lines.find((l) => /reload failed|reload abandoned/.test(l));
  try {
    await waitUntil(() => exited() || lines.some((l) => /Booted \d+ worker/.test(l)), 30_000, 'tsgund to boot');
    if (exited()) throw new Error(`tsgund exited at start:\n${lines.join('\n')}`);
    const firstWorkers = processTree(child.pid).slice(1);
    const boots = [];
    const row = await underLoad('tsgund (SIGHUP)', `http://127.0.0.1:${port}`, async (i) => {
      process.kill(child.pid, 'SIGHUP');
      const done = new RegExp(`"Reloaded: generation ${i + 1}\\b`);
      await waitUntil(() => failure() || lines.some((l) => done.test(l)), 60_000, `tsgund reload ${i}`);
      if (failure()) throw new Error(`tsgund: ${failure()}`);
      // the reload waits for its slowest worker: compare with that worker's own boot (fork to ready)
      const { stdout } = await promisify(execFile)(process.execPath, [TSGUND, 'status', '-p', pidfile, '--json']);
      const fresh = JSON.parse(stdout).workers.filter((w) => w.generation === i + 1 && w.bootMs !== null);
      if (fresh.length) boots.push(Math.max(...fresh.map((w) => w.bootMs)));
      // timed by the master's clock: this process, busy generating the load, notices the line late
      const end = lines.findIndex((l) => done.test(l));
      const start = lines.findLastIndex((l, at) => at < end && l.includes('"Handling signal: HUP'));
      const at = (line) => Date.parse(JSON.parse(line).time);
      return at(lines[end]) - at(lines[start]);
    });
    row.boot = boots.length ? boots.reduce((a, b) => a + b, 0) / boots.length : NaN;
    row.check = firstWorkers.every((p) => !processTree(child.pid).includes(p))
      ? 'first workers replaced'
      : 'FIRST WORKERS STILL THERE';
    return row;
  } finally {
    cleanups.delete(stop);
    await stop();
    out.end();
  }
}

// ---------------------------------------------------------------- pm2

async function benchPm2() {
  const port = await freePort();
  const kill = async () => pm2.kill();
  kill.sync = () => pm2.killSync();
  cleanups.add(kill); // before the daemon exists: a Ctrl-C during `pm2 start` must still kill it
  const outFile = path.join(tmp, 'pm2.log');
  try {
    const env = { PORT: String(port), GRACEFUL: PM2_SHUTDOWN === 'graceful' ? '1' : '0' };
    const started = await pm2.runAsync(
      ['start', 'scripts/bench/single.mjs', '-i', WORKERS, '--name', 'reload-bench', '--', APP],
      env,
    );
    fs.appendFileSync(outFile, started.output);
    if (started.status !== 0 || !pm2.alive())
      throw new Error(`pm2 start failed (exit ${started.status}), see ${outFile}`);
    const appPids = async () => {
      const r = await pm2.runAsync(['jlist']);
      const list = JSON.parse(r.output.slice(r.output.indexOf('[')));
      return list.map((p) => p.pid).sort();
    };
    const firstWorkers = await appPids();
    const row = await underLoad(
      `pm2 reload (app: ${PM2_SHUTDOWN} close on SIGINT)`,
      `http://127.0.0.1:${port}`,
      async () => {
        const r = await pm2.runAsync(['reload', 'reload-bench'], env);
        fs.appendFileSync(outFile, r.output);
        if (r.status !== 0) throw new Error(`pm2 reload exited ${r.status}, see ${outFile}`);
      },
    );
    const now = await appPids();
    row.check = firstWorkers.every((p) => !now.includes(p)) ? 'first workers replaced' : 'FIRST WORKERS STILL THERE';
    return row;
  } finally {
    cleanups.delete(kill);
    await kill();
  }
}

// ---------------------------------------------------------------- main

function printTable(rows, notes) {
  const fmt = (ms) => `${Math.round(ms).toLocaleString('en-US')} ms`;
  const lines = [
    `${RELOADS} reloads back to back under load (${KEEPALIVE} keep-alive loops + ${FRESH} connection-per-request loops on /pid); WORKERS=${WORKERS}; ${os.cpus().length} CPUs; node ${process.version}; app ${APP}`,
    'Requests counted from 1 s before the first reload to 1 s after the last one (the window); TIMEOUT = no answer within 10 s.',
    '',
    "| server | requests ok | failed | failure kinds | window | ok req/s | avg per reload | min | max | slowest new worker's own boot, avg | worker pids seen | check |",
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const rate = Math.round(r.ok / r.seconds).toLocaleString('en-US');
    lines.push(
      `| ${r.name} | ${r.ok.toLocaleString('en-US')} | ${r.failed} | ${r.failed ? r.errors : '—'} | ${r.seconds.toFixed(1)} s | ${rate} | ${fmt(r.avg)} | ${fmt(r.min)} | ${fmt(r.max)} | ${Number.isFinite(r.boot) ? fmt(r.boot) : '—'} | ${r.pids} | ${r.check} |`,
    );
  }
  lines.push(
    '',
    "- tsgund: time from the master's `Handling signal: HUP` log line to its `Reloaded: generation N` line, by the master's own timestamps (the new generation is ready; the old one drains afterwards, while the next reload may already run). A worker's own boot is its fork-to-ready time (`bootMs` in `tsgund status --json`); the reload waits for the slowest of its generation.",
    "- pm2: time for the `pm2 reload` command to return, which includes starting the pm2 CLI (a Node process) and PM2's rolling restart of each worker.",
    ...notes.map((n) => `- ${n}`),
  );
  console.log(lines.join('\n'));
  const page = writeSection('reload', lines.join('\n'));
  if (page) log(`table written to ${path.relative(root, page)} (section reload)`);
}

async function main() {
  const rows = [];
  const notes = [];
  let failed = false;
  const servers = [
    ['tsgund', () => (fs.existsSync(TSGUND) ? null : 'dist/lib/cli/main.js not built (run npx tsc)'), benchTsgund],
    ['pm2', () => (pm2.available ? null : `${path.relative(root, PM2_BIN)} not found (npm install)`), benchPm2],
  ];
  try {
    for (const [name, skip, bench] of servers) {
      if (guard.interrupted) return;
      const why = skip();
      // biome-ignore lint/nursery/noMisusedPromises: skip() returns a string or null; the tuple's inferred union misleads the rule
      if (why) {
        notes.push(`${name}: skipped, ${why}`);
        continue;
      }
      log(`${name}: starting`);
      try {
        rows.push(await bench());
      } catch (e) {
        if (guard.interrupted) return;
        failed = true;
        notes.push(`${name}: failed, ${e.message.split('\n')[0]}`);
        log(`${name} failed: ${e.stack ?? e}`);
        if (guard.load) await guard.load.stop();
        guard.load = null;
      }
    }
    printTable(rows, notes);
  } finally {
    await guard.runAll();
  }
  if (failed) {
    log(`logs kept in ${tmp}`);
    process.exitCode = 1;
  } else {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
