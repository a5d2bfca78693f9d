// Throughput benchmark: single process vs bare node:cluster (round-robin) vs
// tsgund vs PM2 cluster mode, all serving examples/hello.js, measured with wrk.
//
//   node scripts/bench/run.mjs
//   WORKERS=2 DURATION=5 ONLY=keepalive,close node scripts/bench/run.mjs
//
// Env knobs:
//   WORKERS   workers per server (default 2)
//   DURATION  seconds per wrk run (default 10)
//   ONLY      comma list of workloads: keepalive,close,1k,64k,slow (default all)
//   WARMUP    seconds of wrk warm-up per server, 0 = none (default 1)
//   IDLE      seconds over which idle CPU is sampled after start (default 5)
//   SERVERS   comma list of servers to run: single,bare,tsgund,pm2 (the default),
//             tsgund-alog, tsgund-alog-stdout (tsgund with an access log to a file / stdout)
//   APP       app module (default examples/hello.js; needs its /size and /slow)
//   PM2_BIN   pm2 executable (default node_modules/.bin/pm2, the devDependency;
//             skipped if absent)
//
// Needs wrk (apt-get install wrk) and, for tsgund, a build (npx tsc). Servers
// run one at a time on free loopback ports, each in its own process group;
// each is stopped by the pid spawned (SIGTERM, SIGKILL after 5 s), also on
// Ctrl-C or error. PM2 runs with PM2_HOME in the temp dir (never ~/.pm2) and
// its daemon is always stopped with `pm2 kill` (see pm2.mjs). Prints Markdown
// tables to stdout, progress to stderr.
//
// Besides throughput and latency, per server: start-to-ready time (spawn of
// the start command until the first HTTP 200), the RSS of the supervising
// process (the tsgund master, the PM2 God Daemon, the cluster primary) and of
// its whole process tree, and their CPU use while idle (utime+stime from
// /proc/<pid>/stat over IDLE seconds, right after ready, before any load).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pm2 } from './pm2.mjs';
import { CLK_TCK, cpuTicks, processAlive, processTree, rssMB } from './proc.mjs';
import { freePort } from './ports.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERS = String(Number(process.env.WORKERS ?? 2));
const DURATION = Number(process.env.DURATION ?? 10);
const WARMUP = Number(process.env.WARMUP ?? 1);
const IDLE = Number(process.env.IDLE ?? 5);
const APP = process.env.APP ?? 'examples/hello.js';
const PM2 = process.env.PM2_BIN ?? path.join(root, 'node_modules/.bin/pm2');
const TSGUND = path.join(root, 'dist/lib/cli/main.js');
const BASELINE = 'bare cluster';

const WORKLOADS = {
  keepalive: { path: '/', args: [] },
  close: { path: '/', args: ['-H', 'Connection: close'] },
  '1k': { path: '/size?bytes=1024', args: [] },
  '64k': { path: '/size?bytes=65536', args: [] },
  slow: { path: '/slow?ms=10', args: [] },
};
const only = (process.env.ONLY ?? Object.keys(WORKLOADS).join(','))
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

const SERVERS = [
  { name: 'single', start: (port) => spawnServer('single', [node, 'scripts/bench/single.mjs', APP], { PORT: port }) },
  {
    name: BASELINE,
    start: (port) =>
      spawnServer('bare-cluster', [node, 'scripts/bench/bare-cluster.mjs', APP], { PORT: port, WORKERS }),
  },
  {
    name: 'tsgund',
    skip: () => !fs.existsSync(TSGUND) && 'dist/lib/cli/main.js not built (run npx tsc)',
    start: (port) => spawnServer('tsgund', [node, TSGUND, 'start', APP, '-w', WORKERS, '-b', `127.0.0.1:${port}`]),
  },
  {
    name: 'pm2 cluster',
    skip: () => !pm2.available && `${path.relative(root, PM2)} not found (npm install)`,
    start: startPm2,
  },
  // the cost of access logging (opt-in: SERVERS=tsgund,tsgund-alog,tsgund-alog-stdout)
  ...[
    ['file', path.join(tmp, 'access.log')],
    ['stdout', '-'],
  ].map(([where, target]) => ({
    name: `tsgund + access log (${where})`,
    skip: () => !fs.existsSync(TSGUND) && 'dist/lib/cli/main.js not built (run npx tsc)',
    start: (port) =>
      spawnServer(`tsgund-alog-${where}`, [
        node,
        TSGUND,
        'start',
        APP,
        '-w',
        WORKERS,
        '-b',
        `127.0.0.1:${port}`,
        '--access-logfile',
        target,
      ]),
  })),
];

const SERVER_KEYS = {
  single: 'single',
  bare: BASELINE,
  tsgund: 'tsgund',
  pm2: 'pm2 cluster',
  'tsgund-alog': 'tsgund + access log (file)',
  'tsgund-alog-stdout': 'tsgund + access log (stdout)',
};
const wanted = (process.env.SERVERS ?? 'single,bare,tsgund,pm2')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const k of wanted)
  if (!SERVER_KEYS[k]) throw new Error(`SERVERS: unknown server "${k}" (known: ${Object.keys(SERVER_KEYS)})`);
const selected = SERVERS.filter((s) => wanted.some((k) => SERVER_KEYS[k] === s.name));

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

function get200(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false)).on('timeout', () => req.destroy());
  });
}

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

function wrk(port, { path: urlPath, args }, seconds) {
  const argv = ['-t2', '-c64', `-d${seconds}s`, '--latency', ...args, `http://127.0.0.1:${port}${urlPath}`];
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

async function benchServer(spec, results, notes, startup) {
  const why = spec.skip?.();
  if (why) {
    notes.push(`${spec.name}: skipped, ${why}`);
    return log(`skip ${spec.name}: ${why}`);
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
    for (const w of only) {
      log(`${spec.name} / ${w}: wrk ${DURATION} s`);
      results.push({ server: spec.name, workload: w, ...(await wrk(port, WORKLOADS[w], DURATION)) });
    }
    entry.rssAfter = rssMB(server.pid);
  } catch (e) {
    if (interrupted) return;
    notes.push(`${spec.name}: failed, ${e.message.split('\n')[0].replace(/, log:$/, '')}`);
    log(`${spec.name} failed: ${e.message}`);
  } finally {
    if (server) await server.stop();
  }
}

function printTables(results, startup, notes) {
  const base = Object.fromEntries(results.filter((r) => r.server === BASELINE).map((r) => [r.workload, r.rps]));
  const lines = [
    `wrk -t2 -c64 -d${DURATION}s --latency; WORKERS=${WORKERS}; ${os.cpus().length} CPUs; node ${process.version}; app ${APP}`,
    '',
    '| server | workload | req/s | p50 | p99 | errors | vs bare cluster |',
    '|---|---|---:|---:|---:|---|---:|',
  ];
  for (const w of only) {
    for (const r of results.filter((x) => x.workload === w)) {
      const ratio = base[w] ? `${(r.rps / base[w]).toFixed(2)}×` : '—';
      lines.push(
        `| ${r.server} | ${w} | ${fmtInt(r.rps)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${fmtErrors(r.errors)} | ${ratio} |`,
      );
    }
  }
  const role = { single: 'the server', [BASELINE]: 'primary', tsgund: 'master', 'pm2 cluster': 'God Daemon' };
  const cpu = (ms) =>
    ms === undefined || Number.isNaN(ms) ? '?' : `${ms.toFixed(0)} ms (${(ms / (IDLE * 10)).toFixed(2)} %)`;
  lines.push(
    '',
    `Supervisor = the process that owns the workers (tsgund master, PM2 God Daemon, cluster primary). Idle CPU: utime+stime over ${IDLE} s right after ready, before any load (1 tick = ${1000 / CLK_TCK} ms).`,
    '',
    '| server | supervisor | start-to-ready | supervisor RSS at ready | supervisor RSS after load | processes | tree RSS at ready | supervisor idle CPU | tree idle CPU |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const s of startup) {
    lines.push(
      `| ${s.server} | ${role[s.server] ?? '?'} (pid ${s.pid}) | ${s.readyMs.toFixed(0)} ms | ${s.rssReady.toFixed(1)} MB | ${s.rssAfter.toFixed(1)} MB | ${s.procs} | ${s.treeRssReady.toFixed(1)} MB | ${cpu(s.idleMs)} | ${cpu(s.treeIdleMs)}${s.treeChanged ? ' (tree changed)' : ''} |`,
    );
  }
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  console.log(lines.join('\n'));
}

async function main() {
  const results = [];
  const startup = [];
  const notes = [];
  try {
    for (const spec of selected) await benchServer(spec, results, notes, startup);
    if (interrupted) return;
    printTables(results, startup, notes);
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
