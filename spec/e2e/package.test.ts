// The package as users get it: `npm pack` once, then installs of the tarball
// (npm, npm -g into a temp prefix, npx, pnpm with its default settings) serve a
// request, load a TypeScript config that imports 'tsgund', and reap zombies as
// PID 1 with the prebuilt addon, never built here. tsgund has no install
// script, so neither npm nor pnpm has anything to warn about or refuse.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Proc, ROOT, childrenOf, cleanup, freePort, request, tempDir, track, waitFor } from '../support/harness.js';

const exec = promisify(execFile);
// pnpm from devDependencies, run by this Node
const PNPM = join(ROOT, 'node_modules/pnpm/bin/pnpm.mjs');
/** What npm and pnpm say about a package's install scripts (npm's allowScripts, pnpm's ignored builds). */
const SCRIPT_WARNINGS = /install-scripts|allowScripts|ERR_PNPM_IGNORED_BUILDS|Ignored build scripts|approve-builds/i;
const dirs: string[] = [];
after(() => cleanup(dirs));

const temp = () => {
  const d = tempDir();
  dirs.push(d);
  chmodSync(d, 0o755);
  return d;
};
const npm = (cwd: string, args: string[], timeout = 120_000) => exec('npm', args, { cwd, timeout, env: npmEnv() });
// this Node first on PATH: npm, npx and the bin shims run `node`
const npmEnv = () => ({
  ...process.env,
  PATH: `${join(process.execPath, '..')}:${process.env.PATH}`,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  WEB_CONCURRENCY: '',
  TSGUND_CMD_ARGS: '',
});

let tarball = '';
before(async () => {
  const out = temp();
  // dist is built already (tests run from it); skip `prepack`
  const { stdout } = await npm(ROOT, ['pack', '--ignore-scripts', '--pack-destination', out, '--json']);
  tarball = join(out, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
});

const EXPRESS_APP = [
  "import express from 'express';",
  'const app = express();',
  "app.get('/', (_req, res) => { res.send('express via tsgund'); });",
  'export default app;',
].join('\n');

const TS_CONFIG = (port: number) =>
  [
    "import { defineConfig } from 'tsgund';",
    'interface Local { port: number }',
    `const local: Local = { port: ${port} };`,
    "export default defineConfig({ app: 'app.mjs', workers: 1, bind: '127.0.0.1:' + local.port });",
  ].join('\n');

/**
 * Run a command (a tsgund start) until it serves `url`, check the reply, stop
 * the master with QUIT. `masterOf` finds the master's host pid: by default the
 * pid it logs (under npx the master is a grandchild of the command).
 */
async function serves(
  cmd: string,
  args: string[],
  cwd: string,
  port: number,
  body: RegExp,
  masterOf = async (p: Proc) => Number((await p.line(/Listening at: .* \((\d+)\)$/))[1]),
) {
  const proc = new Proc(spawn(cmd, args, { cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  let exit: { code: number | null; signal: string | null } | null = null;
  void proc.exit.then((e) => (exit = e));
  await proc.line(/Booted 1 worker/, 60_000);
  const master = await masterOf(proc);
  track(master);
  const reply = await request(`http://127.0.0.1:${port}/`);
  assert.equal(reply.status, 200, proc.output);
  assert.match(reply.body, body);
  process.kill(master, 'SIGQUIT');
  assert.deepEqual(await waitFor(() => exit, 'the command to exit', 30_000), { code: 0, signal: null }, proc.output);
  return proc;
}

const canUnshare =
  process.getuid?.() === 0 &&
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;

/** Every `examples/…` path README.md and docs/*.md name (`examples/<name>` stands for each). */
function referencedExamples(): string[] {
  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => join('docs', f))].filter((f) =>
    f.endsWith('.md'),
  );
  const refs = new Set<string>();
  for (const page of pages)
    for (const m of readFileSync(join(ROOT, page), 'utf8').matchAll(/examples\/[\w.@/-]*[\w@-]/g)) refs.add(m[0]);
  return [...refs];
}

describe('the packed tarball', () => {
  it('ships no tests and no source maps, and the reaper prebuilds', async () => {
    const { stdout } = await exec('tar', ['tzf', tarball]);
    const files = stdout.trim().split('\n');
    assert.deepEqual(
      files.filter((f) => /dist\/spec|\.map$|\.test\./.test(f)),
      [],
    );
    for (const f of [
      'package/dist/lib/cli/main.js',
      'package/native/reaper/prebuilds/linux-x64/tsgund-reaper.glibc.node',
      'package/native/reaper/prebuilds/linux-x64/tsgund-reaper.musl.node',
      'package/native/reaper/prebuilds/linux-arm64/tsgund-reaper.glibc.node',
    ])
      assert.ok(files.includes(f), f);
    // the examples the README and docs point to are there, from where the package is installed
    for (const ref of referencedExamples()) {
      const path = `package/${ref.replace(/\.$/, '')}`;
      assert.ok(
        files.some((f) => f === path || f.startsWith(`${path}/`)),
        `${ref} is referenced in the docs but not in the tarball`,
      );
    }
  });

  it('npm install with express: no install-script warning; `npx tsgund` serves; as PID 1 the prebuilt reaper loads; no compiler installed', async () => {
    const project = temp();
    writeFileSync(join(project, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
    writeFileSync(join(project, 'app.mjs'), EXPRESS_APP);
    const install = await npm(project, ['install', '--prefer-offline', tarball, 'express@5']);
    assert.doesNotMatch(install.stdout + install.stderr, SCRIPT_WARNINGS);
    assert.equal(existsSync(join(project, 'node_modules/tsgund/native/reaper/build')), false, 'nothing built');
    const prod = await npm(project, ['ls', '--all', '--omit=dev', '--parseable']);
    assert.doesNotMatch(prod.stdout, /node_modules\/typescript$/m, 'no compiler');

    const port = await freePort();
    writeFileSync(join(project, 'tsgund.config.ts'), TS_CONFIG(port));
    await serves('npx', ['tsgund', 'start'], project, port, /^express via tsgund$/);

    if (!canUnshare) return; // PID 1 needs root and unshare (the pid1 suite says so)
    const pid1Port = await freePort();
    const bin = join(project, 'node_modules/.bin/tsgund');
    const args = [
      '--pid',
      '--fork',
      '--mount-proc',
      bin,
      'start',
      '-b',
      `127.0.0.1:${pid1Port}`,
      '--log-level',
      'debug',
    ];
    // the master is the namespace's init: the child of the unshare process
    const proc = await serves('unshare', args, project, pid1Port, /express/, async (p) => childrenOf(p.pid)[0]!);
    assert.match(proc.output, /Running as PID 1: reaping orphaned processes/);
    assert.doesNotMatch(proc.output, /without the zombie reaper/);
  });

  it("a global install (npm -g into a prefix) and npx resolve the config's `import ... from 'tsgund'`", async () => {
    const prefix = temp();
    const project = temp(); // no node_modules at all
    writeFileSync(join(project, 'app.mjs'), "export default (_req, res) => res.end('plain app');\n");
    await npm(prefix, ['install', '--global', '--prefix', prefix, '--prefer-offline', tarball]);
    let port = await freePort();
    writeFileSync(join(project, 'tsgund.config.ts'), TS_CONFIG(port));
    await serves(join(prefix, 'bin/tsgund'), ['start'], project, port, /^plain app$/);

    port = await freePort();
    writeFileSync(join(project, 'tsgund.config.ts'), TS_CONFIG(port));
    const npx = ['--yes', '--prefer-offline', `--package=${tarball}`, '--', 'tsgund', 'start'];
    await serves('npx', npx, project, port, /^plain app$/);
  });

  it('pnpm add with its default settings: exit 0, no ignored builds; the installed tsgund serves with the prebuilt reaper', async () => {
    const project = temp();
    writeFileSync(join(project, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
    writeFileSync(join(project, 'app.mjs'), "export default (_req, res) => res.end('pnpm app');\n");
    const pnpm = (args: string[]) =>
      exec(process.execPath, [PNPM, ...args], { cwd: project, env: npmEnv(), timeout: 120_000 });
    // exits 1 on a dependency whose build script it skipped (ERR_PNPM_IGNORED_BUILDS)
    const add = await pnpm(['add', tarball]);
    assert.doesNotMatch(add.stdout + add.stderr, SCRIPT_WARNINGS);
    assert.equal(existsSync(join(project, 'node_modules/tsgund/native/reaper/build')), false, 'nothing built');

    const port = await freePort();
    const bin = join(project, 'node_modules/.bin/tsgund');
    await serves(bin, ['start', 'app.mjs', '-b', `127.0.0.1:${port}`], project, port, /^pnpm app$/);
    // tsgund's own loader, as the master runs it (from pnpm's isolated store)
    const reaper = join(project, 'node_modules/tsgund/dist/lib/master/process/reaper.js');
    const check = `import(${JSON.stringify(reaper)}).then((m) => { const r = m.loadReaperAddon(); console.log(r.error ?? typeof r.native.peek); })`;
    const { stdout } = await exec(process.execPath, ['-e', check], { cwd: project });
    assert.equal(stdout.trim(), 'function');
  });
});
