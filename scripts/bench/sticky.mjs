// What sticky placement costs: tsgund --sticky ip (the kernel places by the
// client's address) and --sticky forwarded (the master accepts and hands each
// connection over) against tsgund (workers accept), tsgund --reuse-port and
// bare node:cluster (round-robin and SCHED_NONE), all serving
// examples/hello.js with the same number of workers, in one run. It also
// measures the master's CPU during each load, as a share of one core.
//
//   node scripts/bench/sticky.mjs
//   ROUNDS=3 DURATION=2 node scripts/bench/sticky.mjs
//
// wrk connects from one address, which sticky placement sends to one worker,
// so the load here is Node's own (closed loops, as in load.mjs) from CLIENTS
// loopback addresses (127.0.0.10 and up), spread evenly over the loops:
//   keepalive  CONNS keep-alive connections
//   close      CONNS loops of a new connection per request (Connection: close)
// Every request also names its client in X-Forwarded-For (198.51.100.N, one
// per address), which only the sticky-xff server trusts and places by.
// CLIENTS above 245 wrap into 127.0.1.x and on.
// The load generator shares the machine with the servers, so compare the
// ratios of one run, not req/s across machines.
//
// Env: WORKERS (default 4), DURATION seconds per server and workload
// (default 3), ROUNDS (default 5; every other one in reverse order), CONNS
// (default 64), CLIENTS (default 64), SERVERS (comma list of rr, none,
// tsgund, reuse-port, sticky, forwarded, sticky-xff; default all), WORKLOADS
// (keepalive,close by default), APP (default examples/hello.js, needs /pid). Servers run in their own process groups and are stopped by
// the pid spawned (SIGTERM, SIGKILL to the group after 5 s), also on Ctrl-C.
// Prints a Markdown table on stdout, progress on stderr.

import { spawn } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, get200 } from './ports.mjs';
import { CLK_TCK, cpuTicks, processAlive } from './proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERS = String(Number(process.env.WORKERS ?? 4));
const DURATION = Number(process.env.DURATION ?? 3);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CONNS = Number(process.env.CONNS ?? 64);
const CLIENTS = Number(process.env.CLIENTS ?? 64);
const WORKLOADS = (process.env.WORKLOADS ?? 'keepalive,close').split(',').filter(Boolean);
const APP = process.env.APP ?? 'examples/hello.js';
const CLI = path.join(root, 'dist/lib/cli/main.js');
const log = (msg) => console.error(`[sticky] ${msg}`);

const SERVERS = {
  rr: { name: 'bare cluster, round-robin', argv: ['scripts/bench/bare-cluster.mjs', APP], env: { SCHED: 'rr' } },
  none: { name: 'bare cluster, SCHED_NONE', argv: ['scripts/bench/bare-cluster.mjs', APP], env: { SCHED: 'none' } },
  tsgund: { name: 'tsgund', argv: [CLI, 'start', APP, '-w', WORKERS] },
  'reuse-port': { name: 'tsgund --reuse-port', argv: [CLI, 'start', APP, '-w', WORKERS, '--reuse-port'] },
  sticky: { name: 'tsgund --sticky ip', argv: [CLI, 'start', APP, '-w', WORKERS, '--sticky', 'ip'] },
  // the master accepts; no proxy is trusted, so it places by the peer's address
  forwarded: {
    name: 'tsgund --sticky forwarded, by address',
    argv: [CLI, 'start', APP, '-w', WORKERS, '--sticky', 'forwarded', '--forwarded-allow-ips', ''],
  },
  // every connection comes from a trusted proxy: the master reads each request head for X-Forwarded-For
  'sticky-xff': {
    name: 'tsgund --sticky forwarded, by X-Forwarded-For',
    argv: [CLI, 'start', APP, '-w', WORKERS, '--sticky', 'forwarded', '--forwarded-allow-ips', '127.0.0.0/8'],
  },
};
const wanted = (process.env.SERVERS ?? Object.keys(SERVERS).join(',')).split(',').filter(Boolean);
for (const k of wanted)
  if (!SERVERS[k]) throw new Error(`SERVERS: unknown server "${k}" (known: ${Object.keys(SERVERS)})`);

const live = new Set();

async function start(key) {
  const port = await freePort();
  const { argv, env = {} } = SERVERS[key];
  const bind = argv[0] === CLI ? ['-b', `127.0.0.1:${port}`] : [];
  const child = spawn(process.execPath, [...argv, ...bind], {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), WORKERS, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
    stdio: 'ignore',
    detached: true,
  });
  live.add(child.pid);
  for (const end = Date.now() + 30_000; !(await get200(port)); await sleep(50))
    if (Date.now() > end || child.exitCode !== null) throw new Error(`${key} did not answer on port ${port}`);
  return { key, port, pid: child.pid };
}

async function stop(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  for (const end = Date.now() + 5000; processAlive(pid) && Date.now() < end; ) await sleep(50);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
  live.delete(pid);
}

/** The i-th client address: 127.0.0.10 … 127.0.0.254, then 127.0.1.1 and on. */
const clientAddress = (i) =>
  i < 245 ? `127.0.0.${10 + i}` : `127.0.${1 + Math.floor((i - 245) / 254)}.${1 + ((i - 245) % 254)}`;

/** Closed loops for DURATION s; returns req/s, failures, the worker pids that answered and the master's CPU (share of a core). */
async function load(port, keepAlive, master) {
  const ticks0 = cpuTicks(master);
  const t0 = performance.now();
  const result = await loops(port, keepAlive);
  const cpu = (cpuTicks(master) - ticks0) / CLK_TCK / ((performance.now() - t0) / 1000);
  return { ...result, cpu };
}

async function loops(port, keepAlive) {
  let ok = 0;
  let failed = 0;
  const pids = new Set();
  const until = Date.now() + DURATION * 1000;
  const loop = async (i) => {
    const localAddress = clientAddress(i % CLIENTS);
    const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1, localAddress }) : false;
    const headers = { 'x-forwarded-for': `198.51.100.${i % CLIENTS}`, ...(keepAlive ? {} : { connection: 'close' }) };
    while (Date.now() < until) {
      await new Promise((done) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/pid', agent, localAddress, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            if (res.statusCode === 200) {
              ok++;
              pids.add(body.trim());
            } else failed++;
            done();
          });
        });
        req.on('error', () => {
          failed++;
          setTimeout(done, 10);
        });
      });
    }
    if (agent) agent.destroy();
  };
  await Promise.all(Array.from({ length: CONNS }, (_, i) => loop(i)));
  return { rps: ok / DURATION, failed, workers: pids.size };
}

const fmt = (n) => (n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n)));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
/** The ratio to `base` within each round: median, and the range over the rounds when there are several. */
function ratio(runs, base) {
  if (!runs || !base) return '—';
  const rs = runs.map((r, i) => r.rps / base[i].rps);
  const range = rs.length > 1 ? ` (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})` : '';
  return `${median(rs).toFixed(2)}×${range}`;
}

async function main() {
  const loadStart = os.loadavg()[0].toFixed(2);
  const servers = [];
  for (const key of wanted) {
    log(`starting ${SERVERS[key].name}`);
    servers.push(await start(key));
  }
  const results = {};
  for (let round = 0; round < ROUNDS; round++) {
    // every other round in reverse order, so that a drifting machine hits every server alike
    for (const s of round % 2 ? [...servers].reverse() : servers) {
      for (const workload of WORKLOADS) {
        log(`round ${round + 1}, ${workload}: ${SERVERS[s.key].name}`);
        const key = `${s.key}:${workload}`;
        results[key] = [...(results[key] ?? []), await load(s.port, workload === 'keepalive', s.pid)];
      }
    }
  }
  const lines = [
    `Node ${process.version}, ${os.cpus().length} cores, ${WORKERS} workers per server, ${ROUNDS} round(s) of ${DURATION} s per server and workload, ${CONNS} closed loops from ${CLIENTS} client addresses; load average ${loadStart} at the start, ${os.loadavg()[0].toFixed(2)} at the end.`,
    '',
    'Medians over the rounds; a ratio is taken within each round, its range over the rounds in parentheses. Bare cluster: SCHED_NONE for keep-alive, round-robin for a new connection per request.',
    '',
    '| server | workload | req/s | vs tsgund | vs --reuse-port | vs bare cluster | master CPU (share of a core) | failed | workers that answered |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of servers) {
    for (const w of WORKLOADS) {
      const runs = results[`${s.key}:${w}`];
      const base = (k) => results[`${k}:${w}`];
      const failed = runs.reduce((n, r) => n + r.failed, 0);
      const workers = Math.min(...runs.map((r) => r.workers));
      const cpu = `${(median(runs.map((r) => r.cpu)) * 100).toFixed(1)}%`;
      const bare = base(w === 'keepalive' ? 'none' : 'rr');
      lines.push(
        `| ${SERVERS[s.key].name} | ${w} | ${fmt(median(runs.map((r) => r.rps)))} | ${ratio(runs, base('tsgund'))} | ${ratio(runs, base('reuse-port'))} | ${ratio(runs, bare)} | ${cpu} | ${failed} | ${workers} |`,
      );
    }
  }
  console.log(lines.join('\n'));
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await Promise.all([...live].map(stop));
    process.exit(130);
  });
}
try {
  await main();
} finally {
  await Promise.all([...live].map(stop));
}
