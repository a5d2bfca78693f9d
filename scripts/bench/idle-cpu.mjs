// The master's CPU at rest: WORKERS idle workers of examples/hello.js, the
// CPU of all the master's threads (/proc/PID/task/*/schedstat) over SECONDS
// once every worker is ready.
// Needs a build (dist/).
//
//   node scripts/bench/idle-cpu.mjs        # WORKERS=128 SECONDS=20 TIMEOUT=30
//
// Prints one Markdown row: workers, timeout, master CPU in % of one core, and
// how often the master woke up (voluntary context switches a second).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.mjs';
import { cpuNs, wakeups } from './proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERS = String(Number(process.env.WORKERS ?? 128));
const SECONDS = Number(process.env.SECONDS ?? 20);
const TIMEOUT = String(Number(process.env.TIMEOUT ?? 30));

const port = await freePort();
const args = [
  'start',
  path.join(root, 'examples/hello.js'),
  '-w',
  WORKERS,
  '-t',
  TIMEOUT,
  '--boot-timeout',
  '300',
  '-b',
  `127.0.0.1:${port}`,
];
const master = spawn(process.execPath, [path.join(root, 'dist/lib/cli/main.js'), ...args], {
  stdio: ['ignore', 'inherit', 'pipe'],
  env: { ...process.env, WEB_CONCURRENCY: '' },
});
process.on('exit', () => master.kill('SIGKILL'));
process.on('SIGINT', () => process.exit(130));

let out = '';
master.stderr.setEncoding('utf8').on('data', (d) => (out += d));
for (const end = Date.now() + 300_000; !/Booted \d+ worker/.test(out); await sleep(100))
  if (Date.now() > end || master.exitCode !== null) throw new Error(`no Booted line:\n${out.slice(-2000)}`);
// let the boot's own work settle (the workers' first heartbeats, the last forks' bookkeeping)
await sleep(3000);
const t0 = performance.now();
const before = cpuNs(master.pid);
const woke = wakeups(master.pid);
await sleep(SECONDS * 1000);
const ns = cpuNs(master.pid) - before;
const perSecond = (wakeups(master.pid) - woke) / SECONDS;
const seconds = (performance.now() - t0) / 1000;
console.log('| workers | timeout | master CPU at rest | master wake-ups |\n|---|---|---|---|');
const cpu = `${((ns / 1e9 / seconds) * 100).toFixed(2)}% of a core`;
console.log(`| ${WORKERS} | ${TIMEOUT} s | ${cpu} | ${perSecond.toFixed(1)}/s |`);
master.kill('SIGTERM');
for (const end = Date.now() + 60_000; master.exitCode === null && Date.now() < end; ) await sleep(100);
process.exit(0);
