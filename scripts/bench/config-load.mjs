// The cost of a TypeScript config file against the same settings in JSON:
// start-to-ready (spawn to "Booted N worker(s)") and the master's and a
// worker's RSS at ready. The .ts config imports `defineConfig` from 'tsgund'
// and a second .ts file, with types and an interface, from a directory
// without node_modules, so Node's type stripping and the config module hooks
// all take part.
//
//   RUNS=7 node scripts/bench/config-load.mjs
//
// Prints one Markdown table of medians.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.mjs';
import { processTree, rssMB } from './proc.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist/lib/cli/main.js');
const HELLO = join(ROOT, 'examples/hello.js');
const RUNS = Number(process.env.RUNS ?? 7);

const dir = mkdtempSync(join(tmpdir(), 'tsgund-bench-'));
const settings = { app: HELLO, workers: 1 };
writeFileSync(join(dir, 'tsgund.config.json'), JSON.stringify(settings));
writeFileSync(join(dir, 'workers.ts'), 'export const workers: number = 1;\n');
writeFileSync(
  join(dir, 'tsgund.config.ts'),
  [
    "import { defineConfig } from 'tsgund';",
    "import { workers } from './workers.ts';",
    'interface Local { app: string }',
    `const local: Local = { app: ${JSON.stringify(HELLO)} };`,
    'export default defineConfig({ app: local.app, workers });',
  ].join('\n'),
);

/** One start: ms to ready, master RSS, worker RSS (MiB). */
async function once(config) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'start', '-c', join(dir, config), '-b', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
  });
  let out = '';
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d;
      if (/Booted 1 worker/.test(out)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => reject(new Error(`tsgund exited:\n${out}`)));
  });
  const ms = performance.now() - t0;
  const [master, worker] = processTree(child.pid);
  const result = { ms, master: rssMB(master), worker: rssMB(worker) };
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGQUIT');
  await exited;
  return result;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = { 'tsgund.config.json': [], 'tsgund.config.ts': [] };
try {
  for (let i = 0; i < RUNS; i++) {
    // alternate, so load on the machine hits both alike
    for (const config of Object.keys(rows)) rows[config].push(await once(config));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const json = rows['tsgund.config.json'];
const jsonMs = median(json.map((r) => r.ms));
const jsonRss = median(json.map((r) => r.master));
console.log(`${RUNS} starts each, medians; node ${process.version}; 1 worker; app examples/hello.js\n`);
console.log('| config | start-to-ready | vs JSON | master RSS | vs JSON | worker RSS |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [config, rs] of Object.entries(rows)) {
  const ms = median(rs.map((r) => r.ms));
  const master = median(rs.map((r) => r.master));
  const worker = median(rs.map((r) => r.worker));
  console.log(
    `| ${config} | ${ms.toFixed(0)} ms | ${(ms / jsonMs).toFixed(2)}× | ${master.toFixed(1)} MiB | ` +
      `${master - jsonRss >= 0 ? '+' : ''}${(master - jsonRss).toFixed(1)} MiB | ${worker.toFixed(1)} MiB |`,
  );
}
