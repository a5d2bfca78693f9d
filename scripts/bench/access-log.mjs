// What the access log costs, mode against mode, and against another build:
// tsgund with an access log to a file and to stdout, written before each
// response's last bytes (the default) or batched for 20 ms
// (--access-log-buffered), on keep-alive load.
//
//   node scripts/bench/access-log.mjs
//   BASELINE=/path/to/other/checkout node scripts/bench/access-log.mjs
//
// BASELINE adds that checkout's build (its dist/lib/cli/main.js, with its
// default access log) to the servers. On a shared machine throughput swings
// from one second to the next, so every server is started once, then each
// round runs wrk against each server for DURATION seconds in turn (the order
// rotates and reverses from round to round), and a ratio is taken within a
// round. Besides requests/s the table gives the CPU time of the master and
// workers per request (utime+stime from /proc over the wrk run), which the
// neighbours' load disturbs less.
//
// Env knobs: ROUNDS (default 20), DURATION (s, default 1), WORKERS (default
// 2), CONNS (wrk connections, default 64), APP (default
// examples/mixed-latency.js). Needs wrk and a build (npx tsc). Prints
// Markdown tables to stdout, progress to stderr.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, get200 } from './ports.mjs';
import { CLK_TCK, cpuTicks, processTree } from './proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const DURATION = Number(process.env.DURATION ?? 1);
const WORKERS = String(Number(process.env.WORKERS ?? 2));
const CONNS = String(Number(process.env.CONNS ?? 64));
const APP = process.env.APP ?? 'examples/mixed-latency.js';
const CLI = path.join(root, 'dist/lib/cli/main.js');
const BASELINE = process.env.BASELINE ? path.resolve(process.env.BASELINE, 'dist/lib/cli/main.js') : null;

for (const [cli, what] of [
  [CLI, 'this checkout is not built (npx tsc)'],
  [BASELINE, 'BASELINE has no dist/lib/cli/main.js'],
]) {
  if (cli && !fs.existsSync(cli)) throw new Error(what);
}
if (spawnSync('wrk', ['-v']).error) throw new Error('wrk not found: apt-get install wrk');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-alog-bench-'));
const SERVERS = [
  { name: 'file', cli: CLI, args: ['--access-logfile', path.join(tmp, 'file.log')] },
  {
    name: 'file, buffered',
    cli: CLI,
    args: ['--access-logfile', path.join(tmp, 'buffered.log'), '--access-log-buffered'],
  },
  { name: 'stdout', cli: CLI, args: ['--access-logfile', '-'] },
  { name: 'stdout, buffered', cli: CLI, args: ['--access-logfile', '-', '--access-log-buffered'] },
  ...(BASELINE
    ? [
        { name: 'baseline file', cli: BASELINE, args: ['--access-logfile', path.join(tmp, 'baseline.log')] },
        { name: 'baseline stdout', cli: BASELINE, args: ['--access-logfile', '-'] },
      ]
    : []),
];
const RATIOS = [
  ['file', 'file, buffered'],
  ['stdout', 'stdout, buffered'],
  ['file', 'baseline file'],
  ['file, buffered', 'baseline file'],
  ['stdout', 'baseline stdout'],
];

const started = [];
const stopAll = () => {
  for (const s of started) {
    try {
      process.kill(-s.pid, 'SIGKILL'); // its own process group: master and workers
    } catch {
      // gone
    }
  }
  started.length = 0;
  fs.rmSync(tmp, { recursive: true, force: true });
};
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

async function start(server) {
  const port = await freePort();
  const out = fs.openSync(path.join(tmp, `${server.name}.out`), 'a');
  const args = ['start', APP, '-w', WORKERS, '-b', `127.0.0.1:${port}`, '-p', path.join(tmp, `${started.length}.pid`)];
  const child = spawn(process.execPath, [server.cli, ...args, ...server.args], {
    cwd: root,
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  started.push(child);
  const deadline = Date.now() + 30_000;
  while (!(await get200(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${server.name} did not start`);
    await sleep(100);
  }
  return { ...server, pid: child.pid, url: `http://127.0.0.1:${port}/`, rps: [], cpuUs: [] };
}

/** One wrk run: requests/s, and the CPU time of the server's processes per request. */
function measure(s) {
  const tree = processTree(s.pid);
  const ticks = () => tree.reduce((sum, pid) => sum + (cpuTicks(pid) || 0), 0);
  const before = ticks();
  const wrk = spawnSync('wrk', ['-t2', `-c${CONNS}`, `-d${DURATION}s`, s.url], { encoding: 'utf8' });
  const used = ticks() - before;
  const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1] ?? Number.NaN);
  s.rps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? Number.NaN));
  s.cpuUs.push(((used / CLK_TCK) * 1e6) / requests);
}

const quantile = (values, q) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const spread = (values, digits) =>
  `${quantile(values, 0.5).toFixed(digits)} [${quantile(values, 0.25).toFixed(digits)}–${quantile(values, 0.75).toFixed(digits)}]`;

const servers = [];
for (const server of SERVERS) {
  console.error(`[alog-bench] start ${server.name}`);
  servers.push(await start(server));
}
for (const s of servers) spawnSync('wrk', ['-t2', `-c${CONNS}`, '-d1s', s.url]); // warm-up
const load = os.loadavg().map((l) => l.toFixed(2));
for (let round = 0; round < ROUNDS; round++) {
  const order = servers.map((_, i) => servers[(i + round) % servers.length]);
  if (round % 2) order.reverse();
  for (const s of order) measure(s);
  console.error(
    `[alog-bench] round ${round + 1}/${ROUNDS}: ${servers.map((s) => `${s.name} ${Math.round(s.rps.at(-1))}`).join(', ')}`,
  );
}

console.log(
  `Node ${process.version}, ${os.cpus().length} cores, ${WORKERS} workers, wrk -c${CONNS} keep-alive on ${APP}, ${ROUNDS} rounds of ${DURATION} s per server; load average ${load.join(' ')} at the start.\n`,
);
console.log('| server | req/s median [quartiles] | server CPU µs per request |');
console.log('|---|---:|---:|');
for (const s of servers) console.log(`| ${s.name} | ${spread(s.rps, 0)} | ${spread(s.cpuUs, 1)} |`);
console.log('\n| ratio, per round | req/s median [quartiles] | CPU per request |');
console.log('|---|---:|---:|');
const byName = new Map(servers.map((s) => [s.name, s]));
for (const [a, b] of RATIOS) {
  const [x, y] = [byName.get(a), byName.get(b)];
  if (!x || !y) continue;
  const rps = x.rps.map((v, i) => v / y.rps[i]);
  const cpu = x.cpuUs.map((v, i) => v / y.cpuUs[i]);
  console.log(`| ${a} / ${b} | ${spread(rps, 3)} | ${spread(cpu, 3)} |`);
}
// the servers' child-process handles would keep this process alive; 'exit' stops them
process.exit(0);
