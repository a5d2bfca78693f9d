// Footprint of tsgund next to PM2 and a bare node:cluster primary: install
// size (a fresh `npm install --omit=dev` of the packed tarball, and of pm2),
// start-to-ready (spawn to the first HTTP 200), and the RSS of the supervisor
// and of a worker at ready. Needs `npm ci` and a build (dist/).
//
//   node scripts/bench/footprint.mjs        # WORKERS=2 APP=examples/hello.js
//
// Prints one Markdown table.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pm2 } from './pm2.mjs';
import { freePort, get200 } from './ports.mjs';
import { processTree, rssMB } from './proc.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERS = String(Number(process.env.WORKERS ?? 2));
const APP = process.env.APP ?? 'examples/hello.js';
const PM2_VERSION = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies.pm2;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsgund-footprint-'));
const npm = (cwd, args) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** MiB of a fresh production install of `spec` into an empty project. */
function installSize(spec) {
  const dir = fs.mkdtempSync(path.join(tmp, 'install-'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  npm(dir, ['install', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', spec]);
  return (
    Number(execFileSync('du', ['-sk', path.join(dir, 'node_modules')], { encoding: 'utf8' }).split('\t')[0]) / 1024
  );
}

/** ms from `t0` to the first 200 with every worker up, then RSS of the supervisor and of a worker. */
async function measure(t0, port, supervisor) {
  for (const end = Date.now() + 60_000; !(await get200(port)); await sleep(20))
    if (Date.now() > end) throw new Error(`no HTTP 200 on port ${port}`);
  const ms = performance.now() - t0;
  const pid = supervisor();
  for (const end = Date.now() + 30_000; processTree(pid).length < Number(WORKERS) + 1; await sleep(20))
    if (Date.now() > end) throw new Error(`fewer than ${WORKERS} workers under ${pid}`);
  const [, ...workers] = processTree(pid);
  const workerRss = workers.map(rssMB).reduce((a, b) => a + b, 0) / workers.length;
  return { ms, supervisor: rssMB(pid), worker: workerRss };
}

async function direct(args, env = {}) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, args(port), {
    cwd: root,
    stdio: 'ignore',
    env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', PORT: String(port), WORKERS, ...env },
  });
  try {
    return await measure(t0, port, () => child.pid);
  } finally {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

async function pm2Run() {
  const pm2 = new Pm2(path.join(root, 'node_modules/.bin/pm2'), path.join(tmp, 'pm2-home'), root);
  const port = await freePort();
  const t0 = performance.now();
  try {
    const r = pm2.run(['start', 'scripts/bench/single.mjs', '-i', WORKERS, '--name', 'footprint', '--', APP], {
      PORT: String(port),
    });
    if (r.status !== 0) throw new Error(r.output);
    return await measure(t0, port, () => pm2.daemonPid());
  } finally {
    await pm2.kill();
  }
}

try {
  const packed = JSON.parse(npm(tmp, ['pack', root, '--ignore-scripts', '--json']))[0].filename;
  const rows = [
    [
      'tsgund',
      installSize(path.join(tmp, packed)),
      await direct((p) => ['dist/lib/cli/main.js', 'start', APP, '-w', WORKERS, '-b', `127.0.0.1:${p}`]),
    ],
    ['PM2 (cluster mode)', installSize(`pm2@${PM2_VERSION}`), await pm2Run()],
    ['bare node:cluster', 0, await direct(() => ['scripts/bench/bare-cluster.mjs', APP])],
  ];
  console.log(`node ${process.version}; ${os.availableParallelism()} CPUs; WORKERS=${WORKERS}; app ${APP}\n`);
  console.log('| server | install size | start-to-ready | supervisor RSS | worker RSS |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, mib, m] of rows)
    console.log(
      `| ${name} | ${mib ? `${mib.toFixed(1)} MiB` : '— (Node only)'} | ${m.ms.toFixed(0)} ms | ` +
        `${m.supervisor.toFixed(1)} MiB | ${m.worker.toFixed(1)} MiB |`,
    );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
