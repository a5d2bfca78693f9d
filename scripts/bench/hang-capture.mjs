// stackOnTimeout: how often a stuck worker's stack is captured before the
// kill, how late the kill comes, and what the helper thread costs a worker.
// Needs a build (dist/).
//
//   node scripts/bench/hang-capture.mjs        # ROUNDS=20 TIMEOUT=3
//
// One master with one worker of spec/fixtures/hang-app.js: ROUNDS times,
// request /spin and wait for the kill; a round counts when the error log got
// one record naming spinForever at hang-app.js:6. Then the helper's cost:
// a worker's RSS and CPU from ready to 1 s after its first request, with the
// setting on and off.

import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, get200 } from './ports.mjs';
import { CLK_TCK, cpuTicks, processTree, rssMB } from './proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const TIMEOUT = Number(process.env.TIMEOUT ?? 3);
const APP = path.join(root, 'spec/fixtures/hang-app.js');

function start(extra) {
  return freePort().then((port) => {
    const args = [path.join(root, 'dist/lib/cli/main.js'), 'start', APP, '-w', '1', '-t', String(TIMEOUT)];
    const child = spawn(process.execPath, [...args, '-b', `127.0.0.1:${port}`, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = [];
    let buf = '';
    const take = (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop();
      lines.push(...parts);
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    process.on('exit', () => child.kill('SIGKILL'));
    return { child, port, lines };
  });
}

async function until(check, ms = 20_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
    const v = check();
    if (v) return v;
  }
  throw new Error('timed out');
}

const workerOf = (master) => processTree(master).find((p) => p !== master);
const fire = (port, p) => http.get({ host: '127.0.0.1', port, path: p }).on('error', () => {});

async function rounds() {
  const { child, port, lines } = await start([]);
  await until(() => lines.some((l) => /Booted 1 worker/.test(l)));
  let captured = 0;
  const lateness = [];
  for (let i = 0; i < ROUNDS; i++) {
    const pid = await until(() => workerOf(child.pid));
    while (!(await get200(port))) await sleep(20);
    const t0 = Date.now();
    fire(port, '/spin');
    await until(() => lines.some((l) => l.includes(`Worker (pid: ${pid}) was killed`)));
    lateness.push(Date.now() - t0);
    await sleep(500);
    const at = lines.findIndex((l) => l.includes(`Worker ${pid} (generation 1) has sent no heartbeat`));
    const records = lines.filter((l) => l.includes(`Worker ${pid} (generation 1) has sent no heartbeat`)).length;
    if (records === 1 && /at spinForever \(.*hang-app\.js:6:\d+\)/.test(lines[at + 1] ?? '')) captured++;
    else if (process.env.DEBUG) console.log(lines.filter((l) => l.includes(String(pid))).join('\n'));
  }
  child.kill('SIGTERM');
  lateness.sort((a, b) => a - b);
  console.log(`| captured | ${captured}/${ROUNDS} |`);
  console.log(
    `| kill after the request (timeout ${TIMEOUT} s), median / max | ${lateness[lateness.length >> 1]} / ${lateness.at(-1)} ms |`,
  );
}

/** A worker's RSS (MiB) and CPU (ms) at ready, and 1 s after its first request. */
async function cost(extra) {
  const { child, port, lines } = await start(extra);
  await until(() => lines.some((l) => /Booted 1 worker/.test(l)));
  const pid = workerOf(child.pid);
  await sleep(500);
  const before = { rss: rssMB(pid), cpu: cpuTicks(pid) };
  await get200(port);
  await sleep(1000);
  const after = { rss: rssMB(pid), cpu: cpuTicks(pid) };
  child.kill('SIGTERM');
  return { rss: after.rss - before.rss, cpu: ((after.cpu - before.cpu) * 1000) / CLK_TCK };
}

console.log('| stackOnTimeout | |\n|---|---|');
await rounds();
for (const [name, extra] of [
  ['on', []],
  ['off', ['--no-stack-on-timeout']],
]) {
  const c = await cost(extra);
  console.log(
    `| ${name}: worker RSS / CPU from ready to 1 s after its first request | +${c.rss.toFixed(1)} MiB / ${c.cpu.toFixed(0)} ms |`,
  );
}
process.exit(0);
