// Scale: start, HUP and memory of big pools, tsgund beside bare SCHED_NONE
// node:cluster servers and PM2 cluster mode, all serving the same tiny
// CommonJS app, plus the tsgund master's idle cost and a HUP with many idle
// keep-alive connections. The yardstick (×) is the leanest bare cluster:
// CommonJS primary and workers that require() the app (bare-cluster.cjs).
//
//   npm run bench            (run.mjs, reload.mjs, then this)
//   node scripts/bench/scale.mjs
//   SCALE_WORKERS=2,8 DRAIN_CONNS=2000 node scripts/bench/scale.mjs
//
// For each worker count, each server is started, measured and stopped in turn:
//   start  spawn until every worker is ready:
//            tsgund   the master's `Booted N worker(s)` line (its own timestamp)
//            bare     the primary's `all N workers listening` line (cluster
//                     'listening' from every worker): bare-cjs (CommonJS,
//                     require() of the app) and bare (an ES module primary
//                     whose workers import() the app)
//            pm2      `pm2 start -i N` returns: PM2 answers once every worker
//                     is "online" (forked, not necessarily listening); the
//                     time includes starting PM2's daemon and CLI
//   HUP    from the signal (PM2: `pm2 reload`) until
//            new ready  tsgund: its `Reloaded: generation 2` line (master's
//                       timestamp); pm2: `pm2 reload` returns
//            old gone   no worker of the first generation is alive (/proc,
//                       every 50 ms)
//          the bare cluster has no reload of its own: '–'
//   RSS    the sum of the RSS of the supervisor and all its descendants,
//          idle before the HUP, and the peak of that sum during the HUP
//          (sampled every 50 ms; shared pages count once per process)
// The tsgund master's idle cost is measured at the largest count, in every
// round, 3 s after the boot: CPU of all its threads (/proc/<pid>/task/*/schedstat,
// in ns) over IDLE seconds, and its main thread's wake-ups; its RSS against
// the smallest count's, per 100 workers.
// The drain: tsgund with DRAIN_WORKERS workers and DRAIN_CONNS idle keep-alive
// connections from this process (each served one request), while 8 keep-alive
// and 4 connection-per-request loops keep requests of /slow?ms=20 in flight;
// then HUP: the time until no old worker is alive, and the requests that
// failed from the HUP until 1 s after the last old worker left.
//
// Each figure is the median of several rounds (5, or 3 above 32 workers), the
// servers taking turns within a round, so that a shared machine's noise
// falls on all of them alike.
//
// Env knobs:
//   SCALE_WORKERS  comma list of worker counts (default 2,32,128)
//   SCALE_SERVERS  comma list (default bare-cjs,bare,tsgund,tsgund-surge,pm2)
//   SCALE_ROUNDS   rounds per worker count (default 5, or 3 above 32 workers)
//   BASE_CLI       another build's dist/lib/cli/main.js: a row 'tsgund (BASE_CLI)'
//                  beside this build's, to measure a change in the same rounds
//   SURGE          reload surge of the tsgund-surge row (default 25%); that row
//                  is '–' unless `tsgund start --help` lists --reload-surge
//   IDLE           seconds the master idles for its CPU figure (default 30, 0 = skip)
//   DRAIN_WORKERS  workers of the drain run (default 8)
//   DRAIN_CONNS    idle keep-alive connections of the drain run (default 10000, 0 = skip)
//   DRAIN_SOURCES  127.0.0.x source addresses they are spread over (default 4),
//                  so that they do not use up one address's ephemeral ports
//   APP            app module (default scripts/bench/hello.cjs; needs /pid and /slow)
//   PM2_BIN        pm2 executable (default node_modules/.bin/pm2; skipped if absent)
//   OUT            file the tables are written to as well (default
//                  $TMPDIR/tsgund-scale.md)
//   BENCH_PAGE     results page (default docs/benchmarks.md, section scale;
//                  none = do not write it)
//
// Every server runs in its own process group and is stopped by the pid spawned
// (PM2 with `pm2 kill`, PM2_HOME in a temp dir), also on Ctrl-C or error. The
// soft limit on open files is raised with prlimit(1) when the drain needs
// more. Traffic is loopback only. Tables on stdout, progress on stderr.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Load } from './load.mjs';
import { guardExit } from './exit-guard.mjs';
import { Pm2 } from './pm2.mjs';
import { freePort } from './ports.mjs';
import { writeSection } from './results-page.mjs';
import { cpuNs, processAlive, processTree, rssMB, wakeups } from './proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const positive = (name, fallback) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name}: '${process.env[name]}' is not a whole number >= 0`);
  return v;
};
const COUNTS = (process.env.SCALE_WORKERS ?? '2,32,128').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`SCALE_WORKERS: '${s}' is not a worker count >= 1`);
  return n;
});
const KNOWN = ['bare-cjs', 'bare', 'tsgund', 'tsgund-base', 'tsgund-surge', 'pm2'];
const WANTED = (process.env.SCALE_SERVERS ?? KNOWN.join(',')).split(',').map((s) => s.trim());
for (const k of WANTED) if (!KNOWN.includes(k)) throw new Error(`SCALE_SERVERS: '${k}' is not one of ${KNOWN}`);
const SURGE = process.env.SURGE ?? '25%';
const IDLE = positive('IDLE', 30);
const DRAIN_WORKERS = positive('DRAIN_WORKERS', 8);
const DRAIN_CONNS = positive('DRAIN_CONNS', 10_000);
const DRAIN_SOURCES = Math.min(254, Math.max(1, positive('DRAIN_SOURCES', 4)));
const APP = process.env.APP ?? 'scripts/bench/hello.cjs';
const ROUNDS = process.env.SCALE_ROUNDS === undefined ? null : Math.max(1, positive('SCALE_ROUNDS', 1));
const roundsFor = (n) => ROUNDS ?? (n > 32 ? 3 : 5);
const PM2_BIN = process.env.PM2_BIN ?? path.join(root, 'node_modules/.bin/pm2');
const OUT = process.env.OUT ?? path.join(os.tmpdir(), 'tsgund-scale.md');
const CLI = path.join(root, 'dist/lib/cli/main.js');
const BASE_CLI = process.env.BASE_CLI ? path.resolve(process.env.BASE_CLI) : null;
const node = process.execPath;
const SAMPLE_MS = 50;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-scale-'));
const log = (msg) => console.error(`[scale] ${msg}`);

// ---------------------------------------------------------------- processes

const guard = guardExit({ tmp, log });
const { cleanups } = guard;

async function waitUntil(pred, ms, what) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (pred()) return;
  if (!pred()) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** A server in its own process group whose output lines are kept, stopped by `signal` then SIGKILL. */
function spawnServer(label, args, env, signal) {
  const out = fs.createWriteStream(path.join(tmp, `${label}.log`));
  const child = spawn(node, args, {
    cwd: root,
    env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: a terminal Ctrl-C reaches only us, and we can sweep its workers
  });
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
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const stop = async () => {
    cleanups.delete(stop);
    if (!exited()) {
      child.kill(signal);
      await waitUntil(exited, 15_000, `${label} to exit`).catch(() => {});
    }
    for (let i = 0; i < 2 && processAlive(-child.pid); i++) {
      if (i > 0) log(`${label}: process group ${child.pid} has stragglers: SIGKILL`);
      if (i > 0)
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      await waitUntil(() => !processAlive(-child.pid), 5000, `${label}'s process group to go`).catch(() => {});
    }
    out.end();
  };
  stop.sync = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  };
  cleanups.add(stop);
  /** The first line after `from` matching `re`; rejects if `fail` matches first, the server exits or time runs out. */
  const waitLine = async (re, { from = 0, fail = null, timeoutMs = 300_000 } = {}) => {
    const find = (r) => lines.find((l, i) => i >= from && r.test(l));
    await waitUntil(() => find(re) || (fail && find(fail)) || exited(), timeoutMs, `${label}: ${re}`);
    if (find(re)) return find(re);
    throw new Error(`${label}: ${fail && find(fail) ? find(fail) : `exited (${tail(lines)})`}`);
  };
  return { pid: child.pid, lines, waitLine, stop, exited };
}

const tail = (lines) => lines.slice(-5).join(' | ');
/** The master's own timestamp of a JSON log line, epoch ms. */
const stamp = (line) => Date.parse(JSON.parse(line).time);

// ---------------------------------------------------------------- measuring

/** The sum of the RSS of `pid` and all its descendants, MiB. */
const treeRss = (tree) => tree.reduce((sum, p) => sum + (rssMB(p) || 0), 0);

/**
 * Samples the process tree of `pid` every 50 ms from a HUP sent at `t0`
 * until none of `oldPids` is alive and `ready` (epoch ms of the new
 * generation's readiness) has resolved.
 */
async function duringHup(pid, oldPids, t0, ready, timeoutMs) {
  let readyAt = null;
  let failed = null;
  ready.then(
    (t) => (readyAt = t),
    (e) => (failed = e),
  );
  const old = new Set(oldPids);
  let peak = 0;
  let goneAt = null;
  for (const end = Date.now() + timeoutMs; ; ) {
    const tick = Date.now();
    const tree = processTree(pid);
    peak = Math.max(peak, treeRss(tree));
    if (goneAt === null && !tree.some((p) => old.has(p))) goneAt = Date.now();
    if (failed) throw failed;
    if (goneAt !== null && readyAt !== null) break;
    if (Date.now() > end || !processAlive(pid))
      throw new Error(
        `HUP not done after ${timeoutMs} ms (new ready: ${readyAt !== null}, old gone: ${goneAt !== null})`,
      );
    await sleep(Math.max(0, SAMPLE_MS - (Date.now() - tick)));
  }
  return { peak, ready: readyAt - t0, gone: goneAt - t0 };
}

/** Workers under `pid` once there are `n`, after a second to settle; with the tree's RSS. */
async function settled(pid, n) {
  await waitUntil(() => processTree(pid).length - 1 >= n, 30_000, `${n} workers under ${pid}`);
  await sleep(1000);
  const tree = processTree(pid);
  return { workers: tree.slice(1), rss: treeRss(tree), masterRss: rssMB(pid) };
}

/** % of one core `pid` (all its threads) used over `seconds`, and its main thread's wake-ups a second. */
async function idleCpu(pid, seconds) {
  const before = { ns: cpuNs(pid), woke: wakeups(pid) };
  const t = performance.now();
  await sleep(seconds * 1000);
  const s = (performance.now() - t) / 1000;
  return { cpu: ((cpuNs(pid) - before.ns) / 1e9 / s) * 100, wakeups: (wakeups(pid) - before.woke) / s };
}

// ---------------------------------------------------------------- servers

const surgeSupported = () =>
  spawnSync(node, [CLI, 'start', '--help'], { encoding: 'utf8' }).stdout?.includes('--reload-surge') ?? false;

async function tsgund(n, extra = [], { idle = 0, cli = CLI } = {}) {
  const port = await freePort();
  const t0 = Date.now();
  // a boot timeout with room: on a busy machine a big generation may take longer than the default 30 s
  const timeouts = ['--boot-timeout', '600'];
  const args = [
    cli,
    'start',
    APP,
    '-w',
    String(n),
    '-b',
    `127.0.0.1:${port}`,
    '--log-format',
    'json',
    ...timeouts,
    ...extra,
  ];
  const srv = spawnServer(`tsgund-${n}`, args, {}, 'SIGQUIT');
  try {
    const start = stamp(await srv.waitLine(/"Booted \d+ worker/)) - t0;
    const before = await settled(srv.pid, n);
    // the boot's own work settles first (the last workers' first heartbeats, the tick slowing down)
    if (idle) await sleep(3000);
    const { cpu, wakeups: woke } = idle ? await idleCpu(srv.pid, idle) : { cpu: NaN, wakeups: NaN };
    const from = srv.lines.length;
    const t1 = Date.now();
    process.kill(srv.pid, 'SIGHUP');
    const ready = srv.waitLine(/"Reloaded: generation 2\b/, { from, fail: /reload (failed|abandoned)/ }).then(stamp);
    const hup = await duringHup(srv.pid, before.workers, t1, ready, 300_000);
    return { start, ...before, hup, cpu, wakeups: woke };
  } finally {
    await srv.stop();
  }
}

async function bare(n, script = 'scripts/bench/bare-cluster.mjs') {
  const port = await freePort();
  const t0 = Date.now();
  const env = { PORT: String(port), WORKERS: String(n), SCHED: 'none' };
  const srv = spawnServer(`bare-${n}`, [script, APP], env, 'SIGTERM');
  try {
    await srv.waitLine(/all \d+ workers listening/);
    const start = Date.now() - t0;
    return { start, ...(await settled(srv.pid, n)), hup: null };
  } finally {
    await srv.stop();
  }
}

async function pm2(n) {
  const pm2 = new Pm2(PM2_BIN, path.join(tmp, `pm2-${n}`), root);
  const kill = () => pm2.kill();
  kill.sync = () => pm2.killSync();
  cleanups.add(kill); // before the daemon exists: a Ctrl-C during `pm2 start` must still kill it
  const outFile = path.join(tmp, `pm2-${n}.log`);
  try {
    const env = { PORT: String(await freePort()), GRACEFUL: '1' };
    const t0 = Date.now();
    const started = await pm2.runAsync(
      ['start', 'scripts/bench/single.mjs', '-i', String(n), '--name', 'scale', '--', APP],
      env,
      300_000,
    );
    const start = Date.now() - t0;
    fs.appendFileSync(outFile, started.output);
    if (started.status !== 0 || !pm2.alive()) throw new Error(`pm2 start failed (exit ${started.status})`);
    const before = await settled(pm2.daemonPid(), n);
    const t1 = Date.now();
    const ready = pm2.runAsync(['reload', 'scale'], env, 600_000).then((r) => {
      fs.appendFileSync(outFile, r.output);
      if (r.status !== 0) throw new Error(`pm2 reload exited ${r.status}`);
      return Date.now();
    });
    const hup = await duringHup(pm2.daemonPid(), before.workers, t1, ready, 600_000);
    return { start, ...before, hup };
  } finally {
    cleanups.delete(kill);
    await kill();
  }
}

// ---------------------------------------------------------------- drain

/** Raise this process's soft limit on open files (children inherit it) when `needed` is more. */
function roomForFiles(needed) {
  const limits = () => {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m.slice(1).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  };
  const [soft, hard] = limits();
  if (soft >= needed) return;
  if (hard >= needed) spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:`], { stdio: 'ignore' });
  if (limits()[0] < needed) throw new Error(`needs ulimit -n ${needed} (is ${limits()[0]}, hard ${hard})`);
}

/** An idle keep-alive connection that has been answered once; `conn.end` says how it ended later. */
function idleConnection(port, i) {
  return new Promise((resolve, reject) => {
    const conn = { idle: false, end: null };
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (i % DRAIN_SOURCES)}` });
    let got = '';
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write('GET /pid HTTP/1.1\r\nHost: scale.bench\r\n\r\n'));
    sock.on('data', (d) => {
      if (conn.idle) return;
      got += d;
      if (!/^HTTP\/1\.1 200 .*\r\n\r\n\d+\n$/s.test(got)) return;
      conn.idle = true;
      resolve(conn);
    });
    sock.on('error', (e) => (conn.end ??= e.code ?? 'error'));
    sock.on('close', () => {
      conn.end ??= 'closed';
      if (!conn.idle) reject(new Error(`connection ${i}: ${conn.end} before its answer`));
    });
    conn.destroy = () => sock.destroy();
  });
}

async function openIdle(port, count) {
  const conns = [];
  let next = 0;
  const opener = async () => {
    while (next < count) conns.push(await idleConnection(port, next++));
  };
  await Promise.all(Array.from({ length: Math.min(256, count) }, opener));
  return conns;
}

async function drain() {
  roomForFiles(DRAIN_CONNS + 1000); // this process and a worker each hold one end of a connection
  const port = await freePort();
  const args = [
    CLI,
    'start',
    APP,
    '-w',
    String(DRAIN_WORKERS),
    '-b',
    `127.0.0.1:${port}`,
    '--log-format',
    'json',
    // the connections stay until the HUP, and the kernel may give one worker most of them
    '--keep-alive',
    '3600',
    '--worker-connections',
    String(Math.max(1000, DRAIN_CONNS + 100)),
  ];
  const srv = spawnServer('tsgund-drain', args, {}, 'SIGQUIT');
  let conns = [];
  try {
    await srv.waitLine(/"Booted \d+ worker/);
    const before = await settled(srv.pid, DRAIN_WORKERS);
    const t = performance.now();
    conns = await openIdle(port, DRAIN_CONNS);
    log(`drain: ${conns.length} idle connections open in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const load = new Load(`http://127.0.0.1:${port}`, { keepAlive: 8, fresh: 4, path: '/slow?ms=20' });
    guard.load = load;
    await load.flowing(100, 30_000);
    const idleAtHup = conns.filter((c) => c.end === null).length;
    const from = srv.lines.length;
    const requests = load.snapshot();
    const t1 = Date.now();
    process.kill(srv.pid, 'SIGHUP');
    const ready = srv.waitLine(/"Reloaded: generation 2\b/, { from, fail: /reload (failed|abandoned)/ }).then(stamp);
    const hup = await duringHup(srv.pid, before.workers, t1, ready, 120_000);
    await sleep(1000);
    const after = load.snapshot();
    await load.stop();
    const errors = load.describeErrors();
    guard.load = null;
    const ends = new Map();
    for (const c of conns) if (c.end) ends.set(c.end, (ends.get(c.end) ?? 0) + 1);
    return {
      idleAtHup,
      hup,
      ok: after.ok - requests.ok,
      failed: after.failed - requests.failed,
      errors,
      ends: [...ends].map(([k, v]) => `${k} ${v}`).join(', ') || 'none',
    };
  } finally {
    for (const c of conns) c.destroy();
    await srv.stop();
  }
}

// ---------------------------------------------------------------- table

const sec = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '?');
const mib = (mb) => (Number.isFinite(mb) ? `${Math.round(mb).toLocaleString('en-US')} MiB` : '?');
const vs = (ms, base) => (Number.isFinite(base) && base > 0 ? ` (${(ms / base).toFixed(2)}×)` : '');

function render(rows, idle, drained, notes, env) {
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  const lines = [
    `Node ${process.version}; ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}); ${gib} GiB memory; app ${APP}; load average ${env.loadStart} at the start, ${env.loadEnd} at the end.`,
    '',
    "Start: spawn until every worker is ready. HUP: from the signal (PM2: `pm2 reload`) until the new generation is ready / until no old worker is alive. (×) against the bare CommonJS cluster's start with as many workers. Each figure is the median of the rounds (the servers take turns within a round): " +
      COUNTS.map((n) => `${roundsFor(n)} at ${n}`).join(', ') +
      '. RSS: all processes of the server, summed (shared pages count in each), idle before the HUP and its peak during the HUP, sampled every 50 ms.',
    '',
    '| workers | server | start | HUP: new ready | HUP: old gone | RSS idle | RSS peak in HUP |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const n of COUNTS) {
    const base = (
      rows.find((r) => r.n === n && r.key === 'bare-cjs') ?? rows.find((r) => r.n === n && r.key === 'bare')
    )?.start;
    for (const r of rows.filter((row) => row.n === n)) {
      if (!r.start) {
        lines.push(`| ${n} | ${r.name} | – | – | – | – | – |`);
        continue;
      }
      const h = r.hup;
      lines.push(
        `| ${n} | ${r.name} | ${sec(r.start)}${r.key === 'bare-cjs' ? '' : vs(r.start, base)} | ${h ? sec(h.ready) + vs(h.ready, base) : '–'} | ${h ? sec(h.gone) + vs(h.gone, base) : '–'} | ${mib(r.rss)} | ${h ? mib(h.peak) : '–'} |`,
      );
    }
  }
  if (idle)
    lines.push(
      '',
      `The tsgund master at rest: ${IDLE} s with every worker ready and no traffic, from 3 s after its \`Booted\` line; CPU of all its threads (schedstat), median of ${idle.rounds} round(s); the goal is at most 0.3% of a core with 128 workers.`,
      '',
      '| workers | master CPU at rest | per 100 workers | main thread wake-ups | master RSS |',
      '|---:|---:|---:|---:|---:|',
      `| ${idle.n} | ${idle.cpu.toFixed(2)}% of a core | ${((idle.cpu * 100) / idle.n).toFixed(3)}% | ${idle.wakeups.toFixed(1)}/s | ${mib(idle.rss)}${idle.rssSmall === undefined ? '' : ` (${mib(idle.rssSmall)} with ${idle.nSmall}: ${(((idle.rss - idle.rssSmall) * 100) / (idle.n - idle.nSmall)).toFixed(1)} MiB per 100 workers)`} |`,
    );
  if (drained) {
    const d = drained;
    lines.push(
      '',
      `HUP with idle keep-alive connections: tsgund, ${DRAIN_WORKERS} workers, ${DRAIN_CONNS.toLocaleString('en-US')} connections from ${DRAIN_SOURCES} source addresses (each answered once, then idle), while 12 loops keep /slow?ms=20 requests in flight; requests counted from the HUP until 1 s after the last old worker left.`,
      '',
      '| idle connections at HUP | new ready | no old worker alive | requests ok | failed | RSS peak in HUP | idle connections ended by |',
      '|---:|---:|---:|---:|---:|---:|---|',
      `| ${d.idleAtHup.toLocaleString('en-US')} | ${sec(d.hup.ready)} | ${sec(d.hup.gone)} | ${d.ok.toLocaleString('en-US')} | ${d.failed}${d.failed ? ` (${d.errors})` : ''} | ${mib(d.hup.peak)} | ${d.ends} |`,
    );
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const median = (values) => {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** One row of the medians of `rounds` (the results of one server and worker count); a failed round counts as none. */
function medianRow(name, key, n, rounds) {
  const ok = rounds.filter((r) => r.start);
  if (!ok.length) return { name, key, n };
  const of = (pick) => median(ok.map(pick));
  const hups = ok.filter((r) => r.hup);
  const hup = hups.length
    ? {
        ready: median(hups.map((r) => r.hup.ready)),
        gone: median(hups.map((r) => r.hup.gone)),
        peak: median(hups.map((r) => r.hup.peak)),
      }
    : null;
  return {
    ...ok[0],
    name,
    key,
    n,
    rounds: ok.length,
    start: of((r) => r.start),
    rss: of((r) => r.rss),
    masterRss: of((r) => r.masterRss),
    cpu: of((r) => r.cpu),
    wakeups: of((r) => r.wakeups),
    hup,
  };
}

/** One round of one server: its result is added to `results`, a failure to `notes`. */
async function measure(name, n, round, run, notes, results) {
  if (guard.interrupted) return;
  log(`${name}, ${n} workers, round ${round + 1}`);
  try {
    const r = await run();
    results.push(r);
    log(
      `${name}, ${n} workers: start ${sec(r.start)}, HUP ${r.hup ? `${sec(r.hup.ready)} / ${sec(r.hup.gone)}` : '–'}`,
    );
  } catch (e) {
    if (guard.interrupted) return;
    notes.push(`${name} with ${n} workers, round ${round + 1}: failed, ${e.message.split('\n')[0]}`);
    log(`${name} with ${n} workers failed: ${e.stack ?? e}`);
  }
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error('dist/lib/cli/main.js not built (npm run build)');
  const env = { loadStart: loadavg(), loadEnd: '' };
  const rows = [];
  const notes = [];
  const largest = Math.max(...COUNTS);
  const smallest = Math.min(...COUNTS);
  let idle = null;
  let drained = null;
  const surge = WANTED.includes('tsgund-surge') && surgeSupported();
  if (WANTED.includes('tsgund-surge') && !surge) notes.push('tsgund surge: this build has no --reload-surge');
  const pm2ok = fs.existsSync(PM2_BIN);
  if (WANTED.includes('pm2') && !pm2ok) notes.push(`pm2: skipped, ${path.relative(root, PM2_BIN)} not found`);
  try {
    for (const n of COUNTS) {
      const servers = [
        ['bare-cjs', 'bare CommonJS cluster (require)', () => bare(n, 'scripts/bench/bare-cluster.cjs')],
        ['bare', 'bare ESM cluster (import())', () => bare(n)],
        ['tsgund', 'tsgund', () => tsgund(n, [], { idle: n === largest ? IDLE : 0 })],
        ...(BASE_CLI ? [['tsgund-base', 'tsgund (BASE_CLI)', () => tsgund(n, [], { cli: BASE_CLI })]] : []),
        ...(surge ? [['tsgund-surge', `tsgund surge=${SURGE}`, () => tsgund(n, ['--reload-surge', SURGE])]] : []),
        ...(pm2ok ? [['pm2', 'pm2 cluster (`pm2 reload`)', () => pm2(n)]] : []),
      ].filter(([key]) => WANTED.includes(key));
      const results = new Map(servers.map(([key]) => [key, []]));
      for (let round = 0; round < roundsFor(n); round++)
        for (const [key, name, run] of servers)
          await measure(name, n, round, () => run(round), notes, results.get(key));
      for (const [key, name] of servers) rows.push(medianRow(name, key, n, results.get(key)));
      if (WANTED.includes('tsgund-surge') && !surge)
        rows.push({ name: `tsgund surge=${SURGE}`, key: 'tsgund-surge', n });
    }
    const big = rows.find((r) => r.key === 'tsgund' && r.n === largest && Number.isFinite(r.cpu));
    const small = rows.find((r) => r.key === 'tsgund' && r.n === smallest && r.start);
    if (big)
      idle = {
        n: largest,
        cpu: big.cpu,
        wakeups: big.wakeups,
        rounds: big.rounds,
        rss: big.masterRss,
        ...(small && smallest < largest ? { nSmall: smallest, rssSmall: small.masterRss } : {}),
      };
    if (DRAIN_CONNS > 0 && !guard.interrupted) {
      log(`drain: ${DRAIN_WORKERS} workers, ${DRAIN_CONNS} idle connections`);
      try {
        drained = await drain();
      } catch (e) {
        if (!guard.interrupted) notes.push(`drain: failed, ${e.message.split('\n')[0]}`);
        log(`drain failed: ${e.stack ?? e}`);
      }
    }
  } finally {
    await guard.runAll();
  }
  if (guard.interrupted) return;
  env.loadEnd = loadavg();
  const table = render(rows, idle, drained, notes, env);
  console.log(table);
  fs.writeFileSync(OUT, `${table}\n`);
  log(`table written to ${OUT}`);
  const page = writeSection('scale', table);
  if (page) log(`table written to ${path.relative(root, page)} (section scale)`);
  if (notes.some((n) => n.includes('failed'))) {
    log(`logs kept in ${tmp}`);
    process.exitCode = 1;
  } else {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
