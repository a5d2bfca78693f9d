// Throughput benchmark: bare node:cluster (round-robin and SCHED_NONE) vs
// tsgund (shared accept and reusePort) vs PM2 cluster mode, all serving
// examples/mixed-latency.js, measured with wrk, in one run.
//
//   npm run bench            (this, then scripts/bench/reload.mjs)
//   node scripts/bench/run.mjs
//   ROUNDS=3 DURATION=3 ONLY=keepalive,close node scripts/bench/run.mjs
//
// Every server is started once and stays up; then each round runs every
// workload against every server, one after another, half of DURATION in one
// order and half in the reverse order (the order rotates each round), so
// that a noisy neighbour or a drifting machine hits all of them alike. Tables give
// min / median / max over the rounds, and each ratio is taken within a round
// (tsgund and the baseline measured seconds apart), reported as its worst and
// median round.
//
// Env knobs:
//   WORKERS   workers per server (default 2)
//   ROUNDS    rounds (default 5)
//   DURATION  seconds per server, workload and round, in two halves (default 4)
//   ONLY      comma list of workloads (default keepalive,keepalive-c8,close,mixed):
//               keepalive     wrk -c64, keep-alive connections
//               keepalive-c8  wrk -c8, keep-alive connections (how evenly 8 connections split)
//               close         wrk -c64, a new connection per request
//               mixed         wrk -c64 keep-alive on /mixed: 10% of requests spend 20 ms of CPU
//               1k, 64k, slow (response sizes, a 10 ms wait)
//   WARMUP    seconds of wrk warm-up per server, 0 = none (default 1)
//   IDLE      seconds over which idle CPU is sampled after start (default 2)
//   STARTS    extra cold starts per server before the run, for start-to-ready
//             (default 6; with the start that serves the run: 7 samples)
//   SERVERS   comma list of servers (default rr,none,none-copy,tsgund,tsgund-reuseport,pm2):
//               single, rr (bare cluster, round-robin), none (bare cluster, SCHED_NONE),
//               none-copy (a second, identical SCHED_NONE cluster: the noise floor of a ratio),
//               tsgund (shared accept), tsgund-reuseport, pm2,
//               tsgund-alog, tsgund-alog-stdout (tsgund with an access log to a file / stdout),
//               tsgund-alog-buffered, tsgund-alog-stdout-buffered (the same with --access-log-buffered)
//   APP       app module (default examples/mixed-latency.js; needs /, /mixed, /size and /slow)
//   PM2_BIN   pm2 executable (default node_modules/.bin/pm2, the devDependency;
//             skipped if absent)
//   BENCH_PAGE  results page (default docs/benchmarks.md, section throughput;
//             none = do not write it)
//
// The connection split of a tsgund run is read from each worker's count of
// accepted connections (`tsgund status --json`, sent by heartbeat), before and
// after the run: "55/45" means the busiest worker accepted 55 %.
//
// Needs wrk (apt-get install wrk) and, for tsgund, a build (npx tsc). Servers
// run on free loopback ports, each in its own process group; each is stopped
// by the pid spawned (SIGTERM, SIGKILL after 5 s), also on Ctrl-C or error.
// PM2 runs with PM2_HOME in the temp dir (never ~/.pm2) and its daemon is
// always stopped with `pm2 kill` (see pm2.mjs). Prints Markdown tables to
// stdout, and writes them into docs/benchmarks.md; progress to stderr.
//
// Besides throughput and latency, per server: start-to-ready time (spawn of
// the start command until the first HTTP 200), the RSS of the supervising
// process (the tsgund master, the PM2 God Daemon, the cluster primary) and of
// its whole process tree, and their CPU use while idle (utime+stime from
// /proc/<pid>/stat over IDLE seconds, right after ready, before any load).

import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pm2 } from './pm2.mjs';
import { CLK_TCK, cpuTicks, processAlive, processTree, rssMB } from './proc.mjs';
import { freePort, get200 } from './ports.mjs';
import { writeSection } from './results-page.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERS = String(Number(process.env.WORKERS ?? 2));
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION = Number(process.env.DURATION ?? 4);
// wrk takes whole seconds
const HALF = Math.max(1, Math.round(DURATION / 2));
const WARMUP = Number(process.env.WARMUP ?? 1);
const IDLE = Number(process.env.IDLE ?? 2);
const STARTS = Number(process.env.STARTS ?? 6);
const APP = process.env.APP ?? 'examples/mixed-latency.js';
const PM2 = process.env.PM2_BIN ?? path.join(root, 'node_modules/.bin/pm2');
const CLI = path.join(root, 'dist/lib/cli/main.js');
const RR = 'bare cluster, round-robin';
const NONE = 'bare cluster, SCHED_NONE';
const NONE_COPY = `${NONE}, a second copy`;
const PM2_CLUSTER = 'pm2 cluster';
const TSGUND = 'tsgund';
const REUSEPORT = 'tsgund --reuse-port';

const WORKLOADS = {
  keepalive: { path: '/', conns: 64, args: [] },
  'keepalive-c8': { path: '/', conns: 8, args: [] },
  close: { path: '/', conns: 64, args: ['-H', 'Connection: close'] },
  mixed: { path: '/mixed', conns: 64, args: [] },
  '1k': { path: '/size?bytes=1024', conns: 64, args: [] },
  '64k': { path: '/size?bytes=65536', conns: 64, args: [] },
  slow: { path: '/slow?ms=10', conns: 64, args: [] },
};
const only = (process.env.ONLY ?? 'keepalive,keepalive-c8,close,mixed')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const w of only)
  if (!WORKLOADS[w]) throw new Error(`ONLY: unknown workload "${w}" (known: ${Object.keys(WORKLOADS)})`);

if (spawnSync('wrk', ['-v']).error) {
  console.error('wrk not found: apt-get install wrk');
  process.exit(1);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-bench-'));
const pm2 = new Pm2(PM2, path.join(tmp, 'pm2-home'), root);
const node = process.execPath;
const log = (msg) => console.error(`[bench] ${msg}`);

// ---------------------------------------------------------------- servers

const built = () => !fs.existsSync(CLI) && 'dist/lib/cli/main.js not built (run npx tsc)';
const bare =
  (sched, label = `bare-${sched}`) =>
  (port) =>
    spawnServer(label, [node, 'scripts/bench/bare-cluster.mjs', APP], { PORT: port, WORKERS, SCHED: sched });
const tsgund = (label, extra) => (port) => {
  const pidfile = path.join(tmp, `${label}.pid`);
  const server = spawnServer(label, [
    node,
    CLI,
    'start',
    APP,
    '-w',
    WORKERS,
    '-b',
    `127.0.0.1:${port}`,
    '-p',
    pidfile,
    ...extra,
  ]);
  server.pidfile = pidfile;
  return server;
};

const SERVERS = [
  {
    key: 'single',
    name: 'single process',
    start: (port) => spawnServer('single', [node, 'scripts/bench/single.mjs', APP], { PORT: port }),
  },
  { key: 'rr', name: RR, start: bare('rr') },
  { key: 'none', name: NONE, start: bare('none') },
  // the same server again: its ratio to the first copy is the noise floor of every ratio in the run
  { key: 'none-copy', name: NONE_COPY, start: bare('none', 'bare-none-copy') },
  { key: 'tsgund', name: TSGUND, skip: built, start: tsgund('tsgund', []) },
  { key: 'tsgund-reuseport', name: REUSEPORT, skip: built, start: tsgund('tsgund-reuseport', ['--reuse-port']) },
  {
    key: 'pm2',
    name: PM2_CLUSTER,
    skip: () => !pm2.available && `${path.relative(root, PM2)} not found (npm install)`,
    start: startPm2,
  },
  // the cost of access logging (opt-in: SERVERS=tsgund,tsgund-alog,tsgund-alog-buffered,tsgund-alog-stdout)
  {
    key: 'tsgund-alog',
    name: 'tsgund + access log (file)',
    skip: built,
    start: tsgund('tsgund-alog-file', ['--access-logfile', path.join(tmp, 'access.log')]),
  },
  {
    key: 'tsgund-alog-stdout',
    name: 'tsgund + access log (stdout)',
    skip: built,
    start: tsgund('tsgund-alog-stdout', ['--access-logfile', '-']),
  },
  // the default writes each line before its response's last bytes; these batch lines for 20 ms (--access-log-buffered)
  {
    key: 'tsgund-alog-buffered',
    name: 'tsgund + access log (file, buffered)',
    skip: built,
    start: tsgund('tsgund-alog-buffered', [
      '--access-logfile',
      path.join(tmp, 'access-buffered.log'),
      '--access-log-buffered',
    ]),
  },
  {
    key: 'tsgund-alog-stdout-buffered',
    name: 'tsgund + access log (stdout, buffered)',
    skip: built,
    start: tsgund('tsgund-alog-stdout-buffered', ['--access-logfile', '-', '--access-log-buffered']),
  },
];

const wanted = (process.env.SERVERS ?? 'rr,none,none-copy,tsgund,tsgund-reuseport,pm2')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const k of wanted)
  if (!SERVERS.some((s) => s.key === k))
    throw new Error(`SERVERS: unknown server "${k}" (known: ${SERVERS.map((s) => s.key)})`);
const selected = SERVERS.filter((s) => wanted.includes(s.key));

const live = new Set(); // servers not yet stopped, for cleanup on any exit path
let wrkChild = null;
let interrupted = false;

function spawnServer(label, [cmd, ...args], env = {}) {
  const out = path.join(tmp, `${label}.log`);
  const fd = fs.openSync(out, 'a');
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', fd, fd],
    detached: true, // own process group: a terminal Ctrl-C reaches only us, and we can sweep its workers
  });
  fs.closeSync(fd);
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const server = {
    pid: child.pid,
    out,
    spawnedAt: performance.now(),
    hasExited,
    stop: () => stopGroup(child.pid, hasExited),
  };
  live.add(server);
  return server;
}

// PM2 cluster mode: the CLI starts a detached daemon (own process group) in a
// private PM2_HOME, then exits; we stop it with `pm2 kill`, then the daemon pid.
async function startPm2(port) {
  const spawnedAt = performance.now();
  const out = path.join(tmp, 'pm2.log');
  const server = {
    pid: 0,
    out,
    spawnedAt,
    hasExited: () => !pm2.alive(),
    stop: async () => {
      await pm2.kill();
      live.delete(server);
    },
  };
  live.add(server); // before the daemon exists: a Ctrl-C during `pm2 start` must still kill it
  const r = pm2.run(
    ['start', 'scripts/bench/single.mjs', '-i', WORKERS, '--name', 'bench', '--no-autorestart', '--', APP],
    { PORT: String(port) },
  );
  fs.writeFileSync(out, r.output);
  server.pid = pm2.daemonPid();
  if (r.status !== 0 || !pm2.alive()) throw new Error(`pm2 start failed (exit ${r.status}), see ${out}`);
  return server;
}

async function waitUntil(pred, ms) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (pred()) return true;
  return pred();
}

// SIGTERM the pid we spawned; SIGKILL its whole process group if it is still
// there after 5 s, or if anything else in the group outlives it by 2 s.
async function stopGroup(pid, hasExited) {
  if (!hasExited()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
    if (!(await waitUntil(hasExited, 5000))) {
      log(`pid ${pid} still running 5 s after SIGTERM: SIGKILL`);
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
      await waitUntil(hasExited, 2000);
    }
  }
  if (!(await waitUntil(() => !processAlive(-pid), 2000))) {
    log(`process group ${pid} has stragglers: SIGKILL`);
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
    await waitUntil(() => !processAlive(-pid), 2000);
  }
  for (const s of live) if (s.pid === pid) live.delete(s);
}

async function stopAll() {
  if (wrkChild && wrkChild.exitCode === null) wrkChild.kill('SIGKILL');
  await Promise.all([...live].map((s) => s.stop()));
  await pm2.kill(); // a no-op unless a daemon was started in our PM2_HOME and is still there
}

// Last resort if we exit without stopAll (e.g. a synchronous throw).
process.on('exit', () => {
  for (const s of live)
    if (s.pid > 0)
      try {
        process.kill(-s.pid, 'SIGKILL');
      } catch {}
  pm2.killSync();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    interrupted = true;
    log(`${sig}: stopping servers`);
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}

// ---------------------------------------------------------------- helpers

async function waitReady(server, port, timeoutMs = 30_000) {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(20)) {
    if (await get200(port)) return performance.now() - server.spawnedAt;
    if (server.hasExited()) throw new Error(`exited before answering 200, log:\n${tail(server.out)}`);
  }
  throw new Error(`no HTTP 200 on port ${port} after ${timeoutMs} ms, log:\n${tail(server.out)}`);
}

const tail = (file, n = 15) => {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-n)
      .map((l) => `    ${l}`)
      .join('\n');
  } catch {
    return '    (no log)';
  }
};

function wrk(port, { path: urlPath, conns, args }, seconds) {
  const argv = ['-t2', `-c${conns}`, `-d${seconds}s`, '--latency', ...args, `http://127.0.0.1:${port}${urlPath}`];
  return new Promise((resolve, reject) => {
    let out = '';
    wrkChild = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    wrkChild.stdout.on('data', (d) => (out += d));
    wrkChild.on('error', reject);
    wrkChild.on('close', (code) =>
      code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk exited ${code}:\n${out}`)),
    );
  });
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 };
function toMs(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s ?? '');
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

function parseWrk(out) {
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
    .exec(out)
    ?.slice(1)
    .map(Number) ?? [0, 0, 0, 0];
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const [connect, read, write, timeout] = sock;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors: { non2xx, connect, read, write, timeout },
  };
}

function fmtErrors(e) {
  const total = Object.values(e).reduce((a, b) => a + b, 0);
  const parts = Object.entries(e)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`);
  return total === 0 ? '0' : `${total} (${parts.join(', ')})`;
}
const fmtMs = (ms) => (Number.isNaN(ms) ? '?' : ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`);
const fmtInt = (n) => (Number.isNaN(n) ? '?' : Math.round(n).toLocaleString('en-US'));

// ---------------------------------------------------------------- main

/** CPU time used by `pid` and by its whole process tree over `seconds` of idling, in ms. */
async function idleCpu(pid, seconds) {
  const tree0 = processTree(pid);
  const before = new Map(tree0.map((p) => [p, cpuTicks(p)]));
  await sleep(seconds * 1000);
  const ms = (p) => ((cpuTicks(p) - (before.get(p) ?? 0)) * 1000) / CLK_TCK;
  const tree1 = processTree(pid);
  return {
    idleMs: ms(pid),
    treeIdleMs: tree1.reduce((sum, p) => sum + (Number.isNaN(ms(p)) ? 0 : ms(p)), 0),
    treeChanged: tree0.join() !== tree1.join(),
  };
}

/** Start-to-ready of `spec` over STARTS cold starts (each server in turn, so that noise hits all alike). */
async function coldStarts(specs, samples) {
  for (let round = 0; round < STARTS; round++) {
    for (const spec of specs) {
      // PM2's daemon, once killed, is not started again in the same run: its start-up is the run's own
      if (spec.key === 'pm2' || spec.skip?.() || interrupted) continue;
      const port = await freePort();
      let server = null;
      try {
        server = await spec.start(port);
        const ms = await waitReady(server, port);
        samples[spec.name] = [...(samples[spec.name] ?? []), ms];
        log(`${spec.name}: cold start ${round + 1}/${STARTS} ready in ${ms.toFixed(0)} ms`);
      } catch (e) {
        // a cold start that fails leaves this server's sample out; the run itself reports failures
        log(`${spec.name}: cold start ${round + 1} failed: ${e.message.split('\n')[0]}`);
      } finally {
        await server?.stop();
      }
    }
  }
}

/** Start a server, measure its start-up, warm it up; null (with a note) when skipped or failed. */
async function startServer(spec, startup, notes) {
  const why = spec.skip?.();
  if (why) {
    notes.push(`${spec.name}: skipped, ${why}`);
    log(`skip ${spec.name}: ${why}`);
    return null;
  }
  const port = await freePort();
  log(`start ${spec.name} on 127.0.0.1:${port}`);
  let server;
  try {
    server = await spec.start(port);
    const readyMs = await waitReady(server, port);
    const tree = processTree(server.pid);
    const entry = {
      server: spec.name,
      pid: server.pid,
      readyMs,
      procs: tree.length,
      rssReady: rssMB(server.pid),
      treeRssReady: tree.reduce((sum, p) => sum + rssMB(p), 0),
      rssAfter: NaN,
    };
    startup.push(entry);
    log(
      `${spec.name} ready in ${readyMs.toFixed(0)} ms (pid ${server.pid}, RSS ${entry.rssReady.toFixed(1)} MB, ${tree.length} processes)`,
    );
    if (IDLE > 0) {
      log(`${spec.name}: sampling idle CPU for ${IDLE} s`);
      Object.assign(entry, await idleCpu(server.pid, IDLE));
    }
    if (WARMUP > 0) await wrk(port, WORKLOADS.keepalive, WARMUP);
    return { spec, server, port, entry };
  } catch (e) {
    if (server) await server.stop();
    if (!interrupted) {
      notes.push(`${spec.name}: failed, ${e.message.split('\n')[0].replace(/, log:$/, '')}`);
      log(`${spec.name} failed: ${e.message}`);
    }
    return null;
  }
}

/** Connections each tsgund worker accepted so far, by pid (from its heartbeats). */
async function acceptedBy(pidfile) {
  const { stdout } = await promisify(execFile)(node, [CLI, 'status', '-p', pidfile, '--json']);
  return new Map(JSON.parse(stdout).workers.map((w) => [w.pid, w.accepted]));
}

// the heartbeat that carries the counts comes once a second (timeout / 4, at most 1 s)
const HEARTBEAT_MS = 1100;

/** Both halves of one server's turn in a round as one result: requests over time, the worse p99, all errors. */
function combine(halves) {
  const requests = halves.reduce((sum, h) => sum + h.requests, 0);
  const seconds = halves.reduce((sum, h) => sum + h.requests / h.rps, 0);
  const errors = {};
  for (const h of halves) for (const [k, v] of Object.entries(h.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    rps: requests / seconds,
    requests,
    p50: maxOf(halves.map((h) => h.p50)),
    p99: maxOf(halves.map((h) => h.p99)),
    errors,
  };
}

/**
 * One round of `workload`: every server runs half of DURATION in `order`, then
 * the other half in reverse order (A B C, C B A). A machine that speeds up or
 * slows down steadily during the round then weighs on every server alike,
 * which a single pass in one order cannot give. The connection split of a
 * tsgund server is counted from before its first half to after its second.
 */
async function measureRound(order, workload, onResult) {
  const halves = new Map();
  const before = new Map();
  for (const live of [...order, ...[...order].reverse()]) {
    if (live.failed) continue;
    try {
      const pidfile = live.server.pidfile;
      if (pidfile && !halves.has(live)) before.set(live, await acceptedBy(pidfile));
      const half = await wrk(live.port, WORKLOADS[workload], HALF);
      halves.set(live, [...(halves.get(live) ?? []), half]);
      if (halves.get(live).length < 2) continue;
      const result = combine(halves.get(live));
      if (pidfile) {
        await sleep(HEARTBEAT_MS);
        const after = await acceptedBy(pidfile);
        const counts = [...after].map(([pid, n]) => n - (before.get(live).get(pid) ?? 0)).filter((n) => n > 0);
        const total = counts.reduce((a, b) => a + b, 0);
        result.maxShare = total > 0 ? Math.max(...counts) / total : NaN;
      }
      onResult({ server: live.spec.name, workload, ...result });
    } catch (e) {
      if (interrupted) return;
      live.failed = true;
      onResult(null, `${live.spec.name}: failed during ${workload}, ${e.message.split('\n')[0]}`);
      log(`${live.spec.name} failed: ${e.message}`);
    }
  }
}

const median = (xs) => {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const minOf = (xs) => Math.min(...xs.filter((x) => !Number.isNaN(x)));
const maxOf = (xs) => Math.max(...xs.filter((x) => !Number.isNaN(x)));
const fmtK = (n) => (Number.isFinite(n) ? (n >= 10000 ? `${(n / 1000).toFixed(1)}k` : fmtInt(n)) : '?');
const fmtRatio = (xs) => (xs.length ? `${minOf(xs).toFixed(2)}× / ${median(xs).toFixed(2)}×` : '—');
const fmtSplit = (share) =>
  Number.isFinite(share) ? `${Math.round(share * 100)}/${100 - Math.round(share * 100)}` : '—';

function loadavg() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function printTables(results, startup, notes, env, starts) {
  // in the order the servers were selected, whatever order their results came in
  const names = selected.map((spec) => spec.name).filter((name) => results.some((r) => r.server === name));
  const lines = [
    `Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), ${WORKERS} workers per server, ${ROUNDS} rounds of wrk -t2 -d${HALF}s --latency twice per workload and server (the servers in turn, then in reverse order); app ${APP}; load average ${env.loadStart} at the start, ${env.loadEnd} at the end.`,
    '',
    `Ratios are per round (the server against the baseline in the same round): worst round / median round. Split: the busiest worker's share of the accepted connections (tsgund only), worst round.`,
  ];
  for (const w of only) {
    const conns = WORKLOADS[w].conns;
    lines.push(
      '',
      `#### ${w} (wrk -c${conns}${WORKLOADS[w].args.length ? ` ${WORKLOADS[w].args.join(' ')}` : ''}, ${WORKLOADS[w].path})`,
      '',
      '| server | req/s min | median | max | p99 median | p99 max | errors | vs SCHED_NONE | vs round-robin | vs PM2 | split |',
      '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|',
    );
    const of = (name, round) => results.find((r) => r.server === name && r.workload === w && r.round === round);
    for (const name of names) {
      const runs = results.filter((r) => r.server === name && r.workload === w);
      if (!runs.length) continue;
      const rps = runs.map((r) => r.rps);
      const ratio = (base) =>
        runs.map((r) => r.rps / (of(base, r.round)?.rps ?? NaN)).filter((x) => Number.isFinite(x));
      const errors = runs.reduce((acc, r) => {
        for (const [k, v] of Object.entries(r.errors)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {});
      lines.push(
        `| ${name} | ${fmtK(minOf(rps))} | ${fmtK(median(rps))} | ${fmtK(maxOf(rps))} | ${fmtMs(median(runs.map((r) => r.p99)))} | ${fmtMs(maxOf(runs.map((r) => r.p99)))} | ${fmtErrors(errors)} | ${name === NONE ? '—' : fmtRatio(ratio(NONE))} | ${name === RR ? '—' : fmtRatio(ratio(RR))} | ${name === PM2_CLUSTER ? '—' : fmtRatio(ratio(PM2_CLUSTER))} | ${fmtSplit(maxOf(runs.map((r) => r.maxShare ?? NaN)))} |`,
      );
    }
  }
  const role = {
    'single process': 'the server',
    [RR]: 'primary',
    [NONE]: 'primary',
    [NONE_COPY]: 'primary',
    [PM2_CLUSTER]: 'God Daemon',
  };
  const cpu = (ms) =>
    ms === undefined || Number.isNaN(ms) ? '?' : `${ms.toFixed(0)} ms (${(ms / (IDLE * 10)).toFixed(2)} %)`;
  lines.push(
    '',
    `Supervisor = the process that owns the workers (tsgund master, PM2 God Daemon, cluster primary). Idle CPU: utime+stime over ${IDLE} s right after ready, before any load (1 tick = ${1000 / CLK_TCK} ms).`,
    '',
    `Start-to-ready: spawn of the start command until the first HTTP 200, median (min–max) of ${STARTS + 1} cold starts, the servers in turn.`,
    '',
    '| server | supervisor | start-to-ready | vs SCHED_NONE | supervisor RSS at ready | supervisor RSS after load | processes | tree RSS at ready | supervisor idle CPU | tree idle CPU |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  const startOf = (name) => [
    ...(starts[name] ?? []),
    ...startup.filter((s) => s.server === name).map((s) => s.readyMs),
  ];
  const noneStart = median(startOf(NONE));
  for (const s of startup) {
    const all = startOf(s.server);
    const ready = `${median(all).toFixed(0)} ms (${minOf(all).toFixed(0)}–${maxOf(all).toFixed(0)})`;
    const delta = median(all) - noneStart;
    const vs =
      Number.isFinite(noneStart) && s.server !== NONE
        ? `${delta < 0 ? '−' : '+'}${Math.abs(delta).toFixed(0)} ms`
        : '—';
    lines.push(
      `| ${s.server} | ${role[s.server] ?? 'master'} (pid ${s.pid}) | ${ready} | ${vs} | ${s.rssReady.toFixed(1)} MB | ${s.rssAfter.toFixed(1)} MB | ${s.procs} | ${s.treeRssReady.toFixed(1)} MB | ${cpu(s.idleMs)} | ${cpu(s.treeIdleMs)}${s.treeChanged ? ' (tree changed)' : ''} |`,
    );
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  console.log(lines.join('\n'));
  const page = writeSection('throughput', lines.join('\n'));
  if (page) log(`tables written to ${path.relative(root, page)} (section throughput)`);
}

async function main() {
  const results = [];
  const startup = [];
  const notes = [];
  const env = { loadStart: loadavg(), loadEnd: '' };
  const starts = {};
  try {
    await coldStarts(selected, starts);
    const running = [];
    for (const spec of selected) {
      const live = await startServer(spec, startup, notes);
      if (interrupted) return;
      if (live) running.push(live);
    }
    for (let round = 0; round < ROUNDS; round++) {
      log(`round ${round + 1}/${ROUNDS} (load average ${loadavg()})`);
      for (const w of only) {
        // rotate the order each round: no server always runs right after another
        const order = running.map((_, i) => running[(i + round) % running.length]);
        await measureRound(order, w, (result, failure) =>
          result ? results.push({ round, ...result }) : notes.push(failure),
        );
        if (interrupted) return;
      }
    }
    env.loadEnd = loadavg();
    for (const live of running) live.entry.rssAfter = rssMB(live.server.pid);
    printTables(results, startup, notes, env, starts);
  } finally {
    await stopAll();
  }
  if (notes.some((n) => n.includes('failed'))) {
    log(`server logs kept in ${tmp}`);
    process.exitCode = 1;
  } else {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
