// Files that run as root in the master (config files, the modules they import,
// PM2 ecosystem files) must be root's alone, with the real user `nobody` as the
// app's user who plants them and real symlinks.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, type Done } from '../support/exec.js';
import { HELLO, cleanup, freePort, request, run, tempDir, waitFor, workersOf } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const NOBODY = 65534;

/** A fresh root-owned directory (0755 unless `mode`) under the root-owned sticky /tmp. */
function rootDir(mode = 0o755): string {
  const dir = tempDir();
  dirs.push(dir);
  chmodSync(dir, mode);
  return dir;
}

/** A directory owned by nobody inside a root-owned one: the app's user can plant files in it. */
function nobodyDir(): string {
  const dir = join(rootDir(), 'app');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/** A config file that leaves `marker` behind when it runs. */
const configText = (marker: string) =>
  `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = { workers: 1 };\n`;

function assertRefused(done: Done, why: RegExp): void {
  assert.equal(done.code, 1, `exit ${done.code}: ${done.stdout}${done.stderr}`);
  const lines = done.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${done.stderr}`);
  assert.match(lines[0]!, /^tsgund: refusing /);
  assert.match(lines[0]!, why);
}

describe('files that run as root', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  it('refuses a config file nobody planted in its own directory, at check-config and at start; it never runs', async () => {
    const dir = nobodyDir();
    const marker = join(dir, '..', 'ran');
    const config = join(dir, '.tsgundrc.cjs');
    writeFileSync(config, configText(marker));
    chownSync(config, NOBODY, NOBODY);
    const why = new RegExp(`config file ${config}: it is owned by uid ${NOBODY}, not root`);
    assertRefused(await cli(['check-config', HELLO, '-u', 'nobody'], { cwd: dir }), why);
    const port = await freePort();
    assertRefused(await cli(['start', HELLO, '-b', `127.0.0.1:${port}`], { cwd: dir, timeoutMs: 30_000 }), why);
    // a root-owned file in that directory is no better: nobody can replace it
    chownSync(config, 0, 0);
    assertRefused(
      await cli(['check-config', HELLO], { cwd: dir }),
      new RegExp(`its directory ${dir} is owned by uid ${NOBODY}`),
    );
    assert.equal(existsSync(marker), false, 'the config file never ran');
  });

  it('refuses a group-writable config file, and a module a config file imports that nobody owns', async () => {
    const dir = rootDir();
    const config = join(dir, 'tsgund.config.cjs');
    writeFileSync(config, configText(join(dir, 'ran')));
    chmodSync(config, 0o664);
    assertRefused(await cli(['check-config', HELLO, '-c', config]), /it has mode 0664: writable by its group/);
    chmodSync(config, 0o644);
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(
      hooks,
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(join(dir, 'hooked'))}, '');\n`,
    );
    chownSync(hooks, NOBODY, NOBODY);
    const esm = join(dir, 'tsgund.config.mjs');
    writeFileSync(esm, "import './hooks.mjs';\nexport default { workers: 1 };\n");
    assertRefused(
      await cli(['check-config', HELLO, '-c', esm]),
      new RegExp(`module ${hooks}: it is owned by uid ${NOBODY}`),
    );
    assert.equal(existsSync(join(dir, 'hooked')), false, 'the module never ran');
  });

  it('refuses a config reached through a symlink in a directory nobody can write to', async () => {
    const real = join(rootDir(), 'tsgund.config.cjs');
    writeFileSync(real, configText(`${real}.ran`));
    const dir = nobodyDir();
    const link = join(dir, 'tsgund.config.cjs');
    symlinkSync(real, link);
    assertRefused(await cli(['check-config', HELLO, '-c', link]), new RegExp(`refusing to follow symlink ${link}`));
    // the same file through a root-owned symlink in a root-owned directory loads
    const good = join(rootDir(), 'link.cjs');
    symlinkSync(real, good);
    const ok = await cli(['check-config', HELLO, '-c', good]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('allows root files in a root-owned sticky directory, not nobody files there', async () => {
    const sticky = rootDir(0o1777);
    const config = join(sticky, 'tsgund.config.cjs');
    writeFileSync(config, configText(`${config}.ran`));
    const ok = await cli(['check-config', HELLO, '-c', config]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^config ok/);
    chownSync(config, NOBODY, NOBODY);
    assertRefused(await cli(['check-config', HELLO, '-c', config]), /owned by uid 65534/);
  });

  it('--insecure-config-files loads such a file anyway', async () => {
    const dir = nobodyDir();
    const marker = join(dir, '..', 'ran');
    const config = join(dir, '.tsgundrc.cjs');
    writeFileSync(config, configText(marker));
    chownSync(config, NOBODY, NOBODY);
    const done = await cli(['check-config', HELLO, '--insecure-config-files'], { cwd: dir });
    assert.equal(done.code, 0, done.stderr);
    assert.ok(existsSync(marker), 'the config file ran');
  });

  it('refuses a PM2 ecosystem file that nobody owns, or that requires a file nobody could replace', async () => {
    const dir = nobodyDir();
    const marker = join(dir, '..', 'ran');
    const eco = join(dir, 'ecosystem.config.js');
    writeFileSync(
      eco,
      `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n` +
        `module.exports = { apps: [{ script: ${JSON.stringify(HELLO)} }] };\n`,
    );
    chownSync(eco, NOBODY, NOBODY);
    assertRefused(
      await cli(['check-config', eco]),
      new RegExp(`PM2 ecosystem file ${eco}: it is owned by uid ${NOBODY}`),
    );
    assert.equal(existsSync(marker), false, 'the ecosystem file never ran');

    // a root-owned one that requires a file nobody owns
    const rootEco = join(rootDir(), 'ecosystem.config.js');
    const shared = join(dir, 'apps.js');
    writeFileSync(shared, `module.exports = [{ script: ${JSON.stringify(HELLO)} }];\n`);
    writeFileSync(rootEco, `module.exports = { apps: require(${JSON.stringify(shared)}) };\n`);
    assertRefused(await cli(['check-config', rootEco]), new RegExp(`module ${shared}: its directory ${dir} is owned`));
  });

  it('check-config -u loads the app as that user, never as root', async () => {
    const dir = nobodyDir();
    const marker = join(dir, 'uid');
    const app = join(dir, 'evil.cjs');
    writeFileSync(
      app,
      `require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(process.getuid()));\nmodule.exports = (req, res) => res.end('x');\n`,
    );
    chownSync(app, NOBODY, NOBODY);
    const done = await cli(['check-config', app, '-u', 'nobody', '-g', 'nogroup'], { cwd: dir });
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /app .*evil\.cjs loads/);
    assert.equal(readFileSync(marker, 'utf8'), String(NOBODY), 'the app ran as nobody');
    // a load failure as that user keeps its exit code and one-line message
    writeFileSync(app, "throw new Error('broken on purpose');\n");
    const failed = await cli(['check-config', app, '-u', 'nobody', '-g', 'nogroup'], { cwd: dir });
    assert.equal(failed.code, 4, failed.stderr);
    assert.match(failed.stderr, /^tsgund: .*broken on purpose/);
  });

  it('--preload with -u refuses an app module that nobody owns; it never runs as root', async () => {
    const dir = nobodyDir();
    const marker = join(dir, '..', 'ran');
    const app = join(dir, 'app.cjs');
    writeFileSync(
      app,
      `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = (req, res) => res.end('x');\n`,
    );
    chownSync(app, NOBODY, NOBODY);
    const args = ['start', app, '--preload', '-u', 'nobody', '-g', 'nogroup', '-b', `127.0.0.1:${await freePort()}`];
    assertRefused(
      await cli(args, { cwd: dir, timeoutMs: 30_000 }),
      new RegExp(`app module \\(loaded as root by --preload\\) ${app}: it is owned by uid ${NOBODY}, not root`),
    );
    assert.equal(existsSync(marker), false, 'the app module never ran');
  });

  it('HUP with a config that became insecure keeps serving and logs the one line', async () => {
    const dir = rootDir();
    const config = join(dir, 'tsgund.config.cjs');
    writeFileSync(config, 'module.exports = { workers: 1 };\n');
    const port = await freePort();
    const proc = run(['start', HELLO, '-c', config, '-b', `127.0.0.1:${port}`]);
    await proc.line(/Booted 1 worker/, 20_000);
    const [worker] = workersOf(proc.pid);
    chownSync(config, NOBODY, NOBODY);
    proc.kill('SIGHUP');
    const line = await proc.line(/reload failed/, 20_000);
    assert.match(line.input, new RegExp(`refusing config file ${config}: it is owned by uid ${NOBODY}, not root`));
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
    await waitFor(() => workersOf(proc.pid).length === 1, 'one worker');
    assert.deepEqual(workersOf(proc.pid), [worker], 'the running worker was kept');
  });
});

describe('PM2 ecosystem uid and gid', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  it('run the workers as that user and group, never silently as root', async () => {
    const dir = rootDir();
    writeFileSync(
      join(dir, 'server.js'),
      "require('node:http').createServer((req, res) => res.end(process.getuid() + ':' + process.getgid())).listen(process.env.PORT);\n",
    );
    const eco = join(dir, 'ecosystem.config.js');
    const app = { script: 'server.js', uid: 'nobody', gid: NOBODY };
    writeFileSync(eco, `module.exports = { apps: [${JSON.stringify(app)}] };\n`);
    const port = await freePort();
    const proc = run(['start', eco, '-b', `127.0.0.1:${port}`, '-w', '1']);
    await proc.line(/Booted 1 worker/, 20_000);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).body, `${NOBODY}:${NOBODY}`);
    assert.doesNotMatch(proc.output, /warning/, 'no field was dropped');

    writeFileSync(eco, `module.exports = { apps: [${JSON.stringify({ ...app, uid: -1 })}] };\n`);
    const bad = await cli(['check-config', eco]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'tsgund: ecosystem.config.js: uid is -1, expected a user or group name or id\n');
  });
});
