// Bursts of HUPs under load: BURSTS bursts (default 20) of HUPS signals
// (default 10) GAP_MS apart (default 100) to a master serving continuous
// keep-alive and new-connection load; between bursts it waits until the
// reloads are done and only the configured workers are left. Any failed
// request (reset, refused, non-200) is a failure; the script exits 1 if
// there was one, and prints the master's log lines around it.
//
//   npm run build && node scripts/soak/hup-bursts.mjs
//   BURSTS=50 WORKERS=4 node scripts/soak/hup-bursts.mjs
//
// Env knobs: BURSTS, HUPS, GAP_MS, WORKERS (default 2), KEEPALIVE (loops,
// default 8), FRESH (loops, default 4). Progress and results go to stderr and
// stdout; the temp dir is removed unless something failed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, get200 } from '../bench/ports.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(root, 'dist/lib/cli/main.js');
const num = (name, fallback) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${process.env[name]}"`);
  return n;
};
const BURSTS = num('BURSTS', 20);
const HUPS = num('HUPS', 10);
const GAP_MS = num('GAP_MS', 100);
const WORKERS = num('WORKERS', 2);
const KEEPALIVE = num('KEEPALIVE', 8);
const FRESH = num('FRESH', 4);
if (!fs.existsSync(CLI)) throw new Error('this checkout is not built (npm run build)');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-hup-bursts-'));
fs.writeFileSync(path.join(tmp, 'package.json'), '{ "type": "module" }\n');
const app = path.join(tmp, 'app.js');
fs.writeFileSync(app, "export default (req, res) => res.end('ok ' + process.pid);\n");
const port = await freePort();
const master = spawn(process.execPath, [CLI, app, '-w', String(WORKERS), '-b', `127.0.0.1:${port}`], {
  cwd: tmp,
  stdio: ['ignore', 'pipe', 'pipe'],
});
let log = '';
const lines = [];
for (const s of [master.stdout, master.stderr])
  s.setEncoding('utf8').on('data', (d) => {
    log += d;
    const cut = log.lastIndexOf('\n');
    if (cut < 0) return;
    for (const l of log.slice(0, cut).split('\n')) lines.push({ t: performance.now(), l });
    log = log.slice(cut + 1);
  });
const count = (re) => lines.filter(({ l }) => re.test(l)).length;

/** The master's children, from /proc (the workers). */
const workers = () =>
  fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master.pid;
      } catch {
        return false;
      }
    });

async function until(cond, what, ms = 30_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let running = true;
let ok = 0;
const failures = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: KEEPALIVE });
function once(opts) {
  return new Promise((resolve) => {
    const t = performance.now();
    const fail = (why) => {
      failures.push({ t, end: performance.now(), why });
      resolve(false);
    };
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 20_000, ...opts }, (res) => {
      res.resume();
      res.on('error', (e) => fail(e.code ?? e.message));
      res.on('aborted', () => fail('aborted'));
      res.on('end', () => {
        if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
        ok++;
        resolve(true);
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => fail(e.code ?? e.message));
  });
}
async function loop(opts) {
  while (running) if (!(await once(opts))) await sleep(10);
}

const t0 = performance.now();
let code = 1;
try {
  await until(() => workers().length === WORKERS, 'the workers to boot');
  await until(() => get200(port), 'a first answer');
  const loops = [
    ...Array.from({ length: KEEPALIVE }, () => loop({ agent })),
    ...Array.from({ length: FRESH }, () => loop({ agent: false, headers: { connection: 'close' } })),
  ];
  for (let b = 1; b <= BURSTS; b++) {
    const [reloads, abandoned, before, okBefore] = [
      count(/Reloaded: generation/),
      count(/abandoned/),
      failures.length,
      ok,
    ];
    const tb = performance.now();
    for (let i = 0; i < HUPS; i++) {
      master.kill('SIGHUP');
      await sleep(GAP_MS);
    }
    await until(
      () => count(/Reloaded: generation/) > reloads || count(/reload failed/) > 0,
      'a reload after the burst',
    );
    await until(() => workers().length === WORKERS, `${WORKERS} workers left after the burst`);
    const okNow = ok;
    await until(() => ok > okNow + 50, 'the load to flow after the burst');
    console.error(
      `burst ${b}/${BURSTS}: ${count(/Reloaded: generation/) - reloads} reload(s), ${count(/abandoned/) - abandoned} abandoned, ` +
        `${ok - okBefore} ok, ${failures.length - before} failed, settled in ${Math.round(performance.now() - tb)} ms`,
    );
  }
  running = false;
  await Promise.all(loops);
  agent.destroy();
  code = failures.length === 0 && count(/reload failed/) === 0 ? 0 : 1;
} catch (err) {
  console.error(String(err));
} finally {
  running = false;
  master.kill('SIGTERM');
  await new Promise((r) => (master.exitCode !== null ? r() : master.once('exit', r)));
}

const secs = ((performance.now() - t0) / 1000).toFixed(1);
console.log(
  `${BURSTS} bursts of ${HUPS} HUPs ${GAP_MS} ms apart, ${WORKERS} workers: ${ok} requests ok, ${failures.length} failed, ` +
    `${count(/Reloaded: generation/)} reloads, ${count(/abandoned/)} abandoned, in ${secs} s`,
);
for (const f of failures.slice(0, 10)) {
  console.log(`failed: ${f.why} at ${Math.round(f.t - t0)}-${Math.round(f.end - t0)} ms; log around it:`);
  for (const { t, l } of lines) if (Math.abs(t - f.end) < 1500) console.log(`  ${Math.round(t - t0)} ms: ${l}`);
}
if (code === 0) fs.rmSync(tmp, { recursive: true, force: true });
else console.log(`kept ${tmp}`);
process.exit(code);
