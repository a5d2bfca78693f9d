// What a PM2 user brings along: the ecosystem's env (PORT, HOST, env_<name>),
// NODE_APP_INSTANCE, wait_ready with process.send('ready'), `tsgund logs`, and
// a command line that fails at once on a typo.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../support/exec.js';
import { FIXTURES, HELLO, cleanup, freePort, request, run, tempDir, waitFor, workersOf } from '../support/harness.js';
import { listeningAddresses } from '../support/listening.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const scratch = (): string => {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
};

/** A directory holding ecosystem.config.js with one app. */
function ecosystem(app: Record<string, unknown>): string {
  const dir = scratch();
  writeFileSync(join(dir, 'ecosystem.config.js'), `module.exports = { apps: [${JSON.stringify(app)}] };\n`);
  return dir;
}

const NO_ENV = { ...process.env, PORT: '', WEB_CONCURRENCY: '' };

async function printConfig(args: string[], cwd: string): Promise<Record<string, unknown>> {
  const r = await cli([...args, '--print-config'], { cwd, env: NO_ENV });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('PM2 migration', () => {
  it("the ecosystem env's PORT and HOST are the bind, and the workers' PORT", async () => {
    const port = await freePort();
    const dir = ecosystem({ script: join(FIXTURES, 'env-app.js'), env: { PORT: port, HOST: '127.0.0.1' } });
    const proc = run(['start', 'ecosystem.config.js'], { cwd: dir, env: NO_ENV });
    await proc.line(/Booted 1 worker/, 15_000);
    assert.equal((await request(`http://127.0.0.1:${port}/PORT`)).body, String(port));
    assert.deepEqual(listeningAddresses([proc.pid, ...workersOf(proc.pid)]), [`127.0.0.1:${port}`]);
  });

  it('PORT alone means all interfaces, as $PORT; a config file or -b wins; --env NAME selects env_NAME', async () => {
    const dir = ecosystem({ script: 'app.js', env: { PORT: 5123 }, env_production: { PORT: '5124', HOST: '::1' } });
    assert.deepEqual((await printConfig(['start', 'ecosystem.config.js'], dir)).bind, ['0.0.0.0:5123']);
    assert.deepEqual((await printConfig(['ecosystem.config.js', '-b', '127.0.0.1:9'], dir)).bind, ['127.0.0.1:9']);
    const prod = await printConfig(['ecosystem.config.js', '--env', 'production', '-e', 'A=1'], dir);
    assert.deepEqual(prod.bind, ['[::1]:5124']);
    assert.deepEqual(prod.rawEnv, ['PORT=5124', 'HOST=::1', 'A=1']);
    const named = await printConfig(['ecosystem.config.js', '--env', 'production'], dir);
    assert.deepEqual(named.rawEnv, ['PORT=5124', 'HOST=::1']);
    writeFileSync(join(dir, 'tsgund.config.json'), JSON.stringify({ bind: '127.0.0.1:7' }));
    assert.deepEqual((await printConfig(['ecosystem.config.js'], dir)).bind, ['127.0.0.1:7']);
    const bad = await cli(['ecosystem.config.js', '--env', 'staging'], { cwd: dir, env: NO_ENV });
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      'tsgund: ecosystem.config.js: --env staging: the app has no env_staging (it has env_production)\n',
    );
  });

  it('NODE_APP_INSTANCE is 0..N-1, and a replacement takes the number of the worker it replaces', async () => {
    const dir = scratch();
    const port = await freePort();
    const app = join(FIXTURES, 'instance-app.js');
    const proc = run(['start', app, '-w', '3', '-b', `127.0.0.1:${port}`], { env: { INSTANCE_DIR: dir } });
    await proc.line(/Booted 3 worker/, 15_000);
    const instances = () =>
      new Map(workersOf(proc.pid).map((pid) => [readFileSync(join(dir, String(pid)), 'utf8'), pid]));
    assert.deepEqual([...instances().keys()].sort(), ['0', '1', '2']);
    const zero = instances().get('0')!;
    process.kill(zero, 'SIGKILL');
    const replacement = await waitFor(() => {
      const now = instances();
      return now.size === 3 && now.get('0') !== zero && now.get('0');
    }, 'a replacement worker with NODE_APP_INSTANCE 0');
    assert.deepEqual([...instances().keys()].sort(), ['0', '1', '2']);
    assert.notEqual(replacement, zero);
  });

  it("wait_ready: a worker is ready only once the app sends 'ready', and serves before", async () => {
    const dir = ecosystem({ script: join(FIXTURES, 'wait-ready.js'), wait_ready: true, listen_timeout: 20_000 });
    const ready = join(dir, 'ready');
    const port = await freePort();
    const proc = run(['start', 'ecosystem.config.js', '-b', `127.0.0.1:${port}`], {
      cwd: dir,
      env: { READY_FILE: ready },
    });
    // listening, and so served, but not yet ready
    await waitFor(() => request(`http://127.0.0.1:${port}/`), 'the app to serve', 15_000);
    assert.equal(proc.count(/Booted/), 0, proc.output);
    writeFileSync(ready, '');
    await proc.line(/Booted 1 worker/, 15_000);
    assert.doesNotMatch(proc.output, /warning|ERROR/, 'wait_ready is a known field, and the app message is no error');
  });

  it("--wait-ready: an app that never sends 'ready' fails the boot with exit 3 and says so", async () => {
    const dir = scratch();
    const r = await cli(
      [
        'start',
        join(FIXTURES, 'wait-ready.js'),
        '--wait-ready',
        '--boot-timeout',
        '4',
        '-b',
        `127.0.0.1:${await freePort()}`,
      ],
      { env: { ...NO_ENV, READY_FILE: join(dir, 'never') } },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^tsgund: app '.*wait-ready\.js' never sent 'ready' within the boot timeout \(4 s\).*process\.send\('ready'\)/m,
    );
  });

  it("without waitReady, the app's process.send('ready') is harmless", async () => {
    const dir = scratch();
    const ready = join(dir, 'ready');
    writeFileSync(ready, '');
    const port = await freePort();
    const proc = run(['start', join(FIXTURES, 'wait-ready.js'), '-b', `127.0.0.1:${port}`], {
      env: { READY_FILE: ready },
    });
    await proc.line(/Booted 1 worker/, 15_000);
    await waitFor(() => existsSync(`${ready}.sent`), "the app's process.send('ready')");
    assert.equal((await request(`http://127.0.0.1:${port}/`)).body, 'served\n');
    assert.doesNotMatch(proc.output, /ERROR|CRITICAL/);
  });

  it('a mistyped command or a missing app fails at once, in one line, before anything binds', async () => {
    const port = await freePort();
    const typo = await cli(['lgos', '-b', `127.0.0.1:${port}`], { env: NO_ENV });
    assert.equal(typo.code, 1);
    assert.match(
      typo.stderr,
      /^tsgund: unknown command 'lgos' \(did you mean 'logs'\?\): the commands are start, .*logs/,
    );
    assert.equal(typo.stderr.split('\n').length, 2, typo.stderr);
    for (const args of [['missing.js'], ['start', 'missing-module']]) {
      const r = await cli([...args, '-b', `127.0.0.1:${port}`], { env: NO_ENV });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /^tsgund: app module 'missing[.-]\w+' not found \(looked in .*\)\n$/);
    }
  });

  it('a bare `tsgund` starts the app the config file names', async () => {
    const dir = scratch();
    const port = await freePort();
    writeFileSync(join(dir, 'tsgund.config.json'), JSON.stringify({ app: HELLO, bind: `127.0.0.1:${port}` }));
    const proc = run([], { cwd: dir, env: NO_ENV });
    await proc.line(/Booted 1 worker/, 15_000);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
  });
});

describe('tsgund logs', () => {
  it('-n N shows the last lines of both logs of a running master; -f follows them across a USR1 rotation', async () => {
    const dir = scratch();
    const [pidfile, access, errors] = ['app.pid', 'access.log', 'error.log'].map((f) => join(dir, f)) as [
      string,
      string,
      string,
    ];
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // relative log paths: the master reports them absolute
    const logFlags = ['--access-logfile', 'access.log', '--error-logfile', 'error.log'];
    const master = run(['start', HELLO, '-b', `127.0.0.1:${port}`, '-p', 'app.pid', ...logFlags], { cwd: dir });
    await waitFor(() => readFileSync(errors, 'utf8').includes('Booted 1 worker'), 'the master to boot', 15_000);
    for (let i = 1; i <= 7; i++) await request(`${url}/r${i}`);
    await waitFor(() => readFileSync(access, 'utf8').includes('/r7'), 'seven access log lines');

    const shown = await cli(['logs', '-p', pidfile, '-n', '5']);
    assert.equal(shown.code, 0, shown.stderr);
    const [errorPart, accessPart] = shown.stdout.split('\n\n') as [string, string];
    assert.equal(errorPart.split('\n')[0], `==> ${errors} <==`);
    assert.equal(errorPart.split('\n').length, 6);
    assert.deepEqual(accessPart.trimEnd().split('\n'), [
      `==> ${access} <==`,
      ...readFileSync(access, 'utf8').trimEnd().split('\n').slice(-5),
    ]);

    const follow = run(['logs', '-p', pidfile, '-f', '-n', '0']);
    await follow.line(new RegExp(`==> ${access} <==`));
    await request(`${url}/before-rotation`);
    await follow.line(/GET \/before-rotation/);
    renameSync(access, `${access}.1`);
    master.kill('SIGUSR1');
    // once the new file gets lines, every writer has reopened
    await waitFor(async () => {
      await request(`${url}/during-rotation`);
      return existsSync(access) && readFileSync(access, 'utf8').includes('/during-rotation');
    }, 'the new access log to get lines');
    await request(`${url}/after-rotation`);
    await follow.line(/GET \/after-rotation/);
    await follow.line(/access\.log was replaced \(rotated\)/);
  });

  it('-c CONFIG: reads the files the config names, and says where a log on stderr goes', async () => {
    const dir = scratch();
    const access = join(dir, 'access.log');
    writeFileSync(access, ['one', 'two', 'three'].map((l) => `${l}\n`).join(''));
    writeFileSync(join(dir, 'tsgund.config.json'), JSON.stringify({ accesslog: 'access.log' }));
    const r = await cli(['logs', '-n', '2'], { cwd: dir, env: NO_ENV });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'two\nthree\n');
    assert.match(r.stderr, /^tsgund: the error log goes to the master's stderr: .*journalctl.*--error-logfile FILE/);
  });
});
