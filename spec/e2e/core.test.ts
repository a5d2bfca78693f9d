import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  HELLO,
  childrenOf,
  cleanup,
  cmdline,
  freePort,
  isRunning,
  request,
  run,
  startServer,
  tempDir,
  waitFor,
  IN_FLIGHT,
  slowRequest,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const pidOf = async (url: string): Promise<number> => Number((await request(url + '/pid')).body);

describe('serving', () => {
  it('serves HTTP from workers that are children of the master named by the pidfile', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const pidfile = join(dir, 'app.pid');
    const { proc, url } = await startServer(['-w', '2', '-p', pidfile]);
    assert.equal(Number(readFileSync(pidfile, 'utf8')), proc.pid);
    const workers = childrenOf(proc.pid);
    assert.equal(workers.length, 2);
    const reply = await request(url + '/');
    assert.equal(reply.status, 200);
    assert.match(reply.body, /^hello from \d+/);
    assert.ok(workers.includes(Number(reply.body.split(' ')[2])), 'answered by one of the workers');
    assert.match(cmdline(proc.pid), /tsgund: master \[/);
    assert.match(cmdline(workers[0]!), /tsgund: worker \[/);
    proc.kill('SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    assert.equal(existsSync(pidfile), false, 'pidfile removed on exit');
    await waitFor(() => workers.every((w) => !isRunning(w)), 'workers gone');
  });

  it('accepts every APP form: module:export, callback(), CommonJS, async factory', async () => {
    const cases: Array<[string, RegExp]> = [
      [join(FIXTURES, 'named-export.js:api'), /^named export/],
      [join(FIXTURES, 'callback-app.js'), /^from callback\(\)/],
      [join(FIXTURES, 'commonjs-app.cjs'), /^commonjs\n/],
      [join(FIXTURES, 'commonjs-app.cjs:other'), /^commonjs other/],
      ['examples/factory.js', /./],
    ];
    await Promise.all(
      cases.map(async ([app, expected]) => {
        const { proc, url } = await startServer(['-w', '1'], { app });
        const reply = await request(url + '/');
        assert.equal(reply.status, 200, app);
        assert.match(reply.body, expected, app);
        proc.kill('SIGQUIT');
        await proc.exit;
      }),
    );
  });

  it('binds unix sockets, IPv6 and several addresses at once', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const sock = join(dir, 'app.sock');
    const port6 = await freePort();
    const { proc, url } = await startServer(['-w', '1', '-b', `unix:${sock}`, '-b', `[::1]:${port6}`]);
    assert.equal((await request(url + '/')).status, 200);
    assert.equal((await request('http://localhost/', { socketPath: sock })).status, 200);
    assert.equal((await request(`http://[::1]:${port6}/`)).status, 200);
    proc.kill('SIGTERM');
    await proc.exit;
    assert.equal(existsSync(sock), false, 'unix socket removed at final shutdown');
  });

  it('serves on an inherited fd (fd://3)', async () => {
    const { bindListener } = await import('../../lib/listeners/handles.js');
    const port = await freePort();
    const listener = await bindListener({ kind: 'tcp', host: '127.0.0.1', port });
    const proc = run(['start', HELLO, '-w', '1', '-b', 'fd://3'], {
      stdio: ['ignore', 'pipe', 'pipe', listener.handle.fd],
    });
    listener.handle.close();
    await proc.line(/Booted 1 worker/);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('keeps the sockets while the pool is down: connections wait in the backlog', async () => {
    const { proc, url } = await startServer(['-w', '1']);
    const worker = childrenOf(proc.pid)[0]!;
    process.kill(worker, 'SIGKILL');
    // the replacement takes a moment to boot; the request must not be refused meanwhile
    const reply = await request(url + '/pid');
    assert.equal(reply.status, 200);
    assert.notEqual(Number(reply.body), worker);
    proc.kill('SIGQUIT');
    await proc.exit;
  });
});

describe('signals to the master', () => {
  // TTIN/TTOU counting is played in-process (spec/master/lifecycle.test.ts); the kernel's merging of
  // pending signals under real bursts, in spec/e2e/pool.test.ts
  it('TERM lets in-flight requests finish, refuses new connections, exits 0', async () => {
    const { proc, url, port } = await startServer(['-w', '2'], { app: IN_FLIGHT });
    const slow = slowRequest(url, 1500);
    await slow.handled;
    proc.kill('SIGTERM');
    await proc.line(/TERM/);
    await waitFor(
      () =>
        new Promise<boolean>((res) => {
          const c = net.connect(port, '127.0.0.1');
          c.on('connect', () => {
            c.destroy();
            res(false);
          });
          c.on('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'));
        }),
      'new connections refused',
    );
    const reply = await slow.reply;
    assert.ok(!(reply instanceof Error) && reply.status === 200, String(reply));
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  it('TERM kills workers still busy after --graceful-timeout', async () => {
    const { proc, url } = await startServer(['-w', '1', '--graceful-timeout', '1'], { app: IN_FLIGHT });
    const slow = slowRequest(url, 20_000);
    await slow.handled;
    const t0 = Date.now();
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 4000, `exited after ${Date.now() - t0} ms`);
    assert.ok((await slow.reply) instanceof Error, 'the busy request was cut off');
  });

  it('QUIT during a graceful stop escalates to a quick one', async () => {
    const { proc, url } = await startServer(['-w', '1', '--graceful-timeout', '30'], { app: IN_FLIGHT });
    await slowRequest(url, 20_000).handled;
    const t0 = Date.now();
    proc.kill('SIGTERM');
    await proc.line(/TERM/);
    proc.kill('SIGQUIT');
    await proc.exit;
    assert.ok(Date.now() - t0 < 5000, `exited after ${Date.now() - t0} ms`);
  });

  it('Ctrl-C (INT to the whole process group) stops everything without respawning workers', async () => {
    const { proc } = await startServer(['-w', '2'], { detached: true });
    const workers = childrenOf(proc.pid);
    process.kill(-proc.pid, 'SIGINT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    const after = proc.lines.slice(proc.lines.findIndex((l) => /Handling signal: INT/.test(l)));
    assert.equal(after.filter((l) => /Booting worker/.test(l)).length, 0, proc.output);
    await waitFor(() => workers.every((w) => !isRunning(w)), 'workers gone');
  });

  it('USR1 never opens the inspector, in the master or a worker', async () => {
    const { proc, url } = await startServer(['-w', '1']);
    const worker = childrenOf(proc.pid)[0]!;
    proc.kill('SIGUSR1');
    process.kill(worker, 'SIGUSR1');
    await proc.line(/USR1/);
    await proc.line(new RegExp(`\\[${worker}\\] \\[INFO\\] reopening log files`));
    assert.doesNotMatch(proc.output, /Debugger listening/);
    assert.equal((await request(url + '/')).status, 200);
    assert.ok(isRunning(worker));
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('if the master is SIGKILLed every worker exits within 1 s', async () => {
    const { proc } = await startServer(['-w', '3']);
    const workers = childrenOf(proc.pid);
    proc.kill('SIGKILL');
    await proc.exit;
    await waitFor(() => workers.every((w) => !isRunning(w)), 'orphaned workers to exit', 1000);
  });
});

describe('workers', () => {
  it('a worker that gets TERM or QUIT is replaced', async () => {
    const { proc } = await startServer(['-w', '2']);
    for (const sig of ['SIGTERM', 'SIGQUIT'] as const) {
      const [victim] = childrenOf(proc.pid);
      process.kill(victim!, sig);
      await waitFor(
        () => !childrenOf(proc.pid).includes(victim!) && childrenOf(proc.pid).length === 2,
        `replacement after ${sig}`,
      );
    }
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('--max-requests recycles workers without failing a request', async () => {
    const { proc, url } = await startServer(['-w', '1', '--max-requests', '10', '--max-requests-jitter', '5']);
    const pids = new Set<number>();
    for (let i = 0; i < 40; i++) pids.add(await pidOf(url));
    assert.ok(pids.size >= 3, `served by ${pids.size} workers`);
    await proc.line(/retiring: max requests/);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('a worker silent for --timeout seconds is aborted and replaced', async () => {
    const { proc, url } = await startServer(['-w', '1', '-t', '1'], { app: join(FIXTURES, 'blocking-app.js') });
    const hung = Number((await request(url + '/')).body);
    void request(url + '/block?s=30').catch(() => {});
    await proc.line(/WORKER TIMEOUT/, 5000);
    await waitFor(() => !isRunning(hung), 'hung worker killed', 5000);
    const fresh = Number((await request(url + '/')).body);
    assert.notEqual(fresh, hung);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('a crash loop backs off exponentially and does not spin the CPU', async () => {
    const { proc } = await startServer(['-w', '1'], { app: join(FIXTURES, 'crash-after-start.js') });
    await proc.line(/next start in 800 ms/, 20_000);
    const spawns = proc.count(/Booting worker/);
    assert.ok(spawns <= 5, `${spawns} workers started before the 800 ms delay`);
    assert.deepEqual(
      proc.lines.filter((l) => /next start in/.test(l)).map((l) => /in (\d+) ms/.exec(l)![1]),
      ['100', '200', '400', '800'],
    );
    const [utime, stime] = readFileSync(`/proc/${proc.pid}/stat`, 'utf8')
      .split(') ')[1]!
      .split(' ')
      .slice(11, 13)
      .map(Number);
    assert.ok(utime! + stime! < 150, `master used ${utime! + stime!} clock ticks of CPU`);
    proc.kill('SIGQUIT');
    await proc.exit;
  });
});

describe('configuration', () => {
  it('merges defaults < config file < TSGUND_CMD_ARGS < command line', async () => {
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(
      join(dir, 'tsgund.config.json'),
      JSON.stringify({ workers: 3, timeout: 11, keepAlive: 7, backlog: 100 }),
    );
    const proc = run(['start', 'app.js', '--print-config', '-w', '5'], {
      cwd: dir,
      env: { TSGUND_CMD_ARGS: '--timeout 12 -w 4 --keep-alive 8', WEB_CONCURRENCY: '9' },
    });
    assert.equal((await proc.exit).code, 0);
    const printed = JSON.parse(proc.output) as Record<string, unknown>;
    assert.equal(printed.workers, 5);
    assert.equal(printed.timeout, 12);
    assert.equal(printed.keepAlive, 8);
    assert.equal(printed.backlog, 100);
    assert.equal(printed.gracefulTimeout, 30);
    assert.equal(printed.configFile, join(dir, 'tsgund.config.json'));
  });

  it('WEB_CONCURRENCY sets the default worker count', async () => {
    const proc = run(['start', 'app.js', '--print-config'], { env: { WEB_CONCURRENCY: '3' } });
    await proc.exit;
    assert.equal((JSON.parse(proc.output) as { workers: number }).workers, 3);
  });

  it('rawEnv and -e reach the app, from a typed TypeScript config file', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const port = await freePort();
    const lib = join(process.cwd(), 'dist/lib/index.js');
    writeFileSync(
      join(dir, 'tsgund.config.ts'),
      [
        `import { defineConfig } from ${JSON.stringify(lib)};`,
        `const workers: number = 1;`,
        `export default defineConfig({ workers, bind: '127.0.0.1:${port}', app: ${JSON.stringify(join(FIXTURES, 'env-app.js'))}, rawEnv: ['FROM_FILE=file'] });`,
      ].join('\n'),
    );
    const proc = run(['start', '-e', 'FROM_CLI=cli'], { cwd: dir });
    await proc.line(/Booted 1 worker/);
    assert.equal((await request(`http://127.0.0.1:${port}/FROM_CLI`)).body, 'cli');
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('--user/--group: workers drop privileges, the master keeps root and the log files are theirs', {
    skip: process.getuid?.() !== 0 && 'needs root',
  }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    chmodSync(dir, 0o755);
    const errorLog = join(dir, 'error.log');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = run([
      'start',
      HELLO,
      '-w',
      '1',
      '-b',
      `127.0.0.1:${port}`,
      '-u',
      'nobody',
      '-g',
      'nogroup',
      '--error-logfile',
      errorLog,
    ]);
    await waitFor(async () => (await request(url + '/')).status === 200, 'serving');
    const uidOf = (pid: number) => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    const gidOf = (pid: number) => /^Gid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    const worker = childrenOf(proc.pid)[0]!;
    assert.equal(uidOf(proc.pid), '0');
    assert.equal(uidOf(worker), '65534');
    assert.equal(gidOf(worker), '65534');
    assert.equal(statSync(errorLog).uid, 65534);
    proc.kill('SIGQUIT');
    await proc.exit;
    const unknown = run(['start', HELLO, '-u', 'no-such-user-here']);
    assert.equal((await unknown.exit).code, 1);
    assert.match(unknown.output, /^tsgund: setting 'user': no such user 'no-such-user-here'$/m);
  });

  it('check-config validates the settings and loads the app', async () => {
    const ok = run(['check-config', HELLO]);
    assert.equal((await ok.exit).code, 0);
    assert.match(ok.output, /config ok/);
    const bad = run(['check-config', join(FIXTURES, 'throws-on-load.js')]);
    assert.equal((await bad.exit).code, 4);
  });
});

describe('bad input: one line naming the culprit, the documented exit code, no stack trace', () => {
  const cases: Array<{
    name: string;
    args: string[];
    code: number;
    message: RegExp;
    setup?: () => Promise<() => void>;
  }> = [
    { name: 'unknown flag', args: ['start', HELLO, '--wrokers', '2'], code: 1, message: /unknown option '--wrokers'/ },
    {
      name: '-w abc',
      args: ['start', HELLO, '-w', 'abc'],
      code: 1,
      message: /--workers is "abc", expected an integer from 1 to 1024/,
    },
    {
      name: '-w 0',
      args: ['start', HELLO, '-w', '0'],
      code: 1,
      message: /--workers is 0, expected an integer from 1 to 1024/,
    },
    {
      name: 'bad bind',
      args: ['start', HELLO, '-b', 'localhost:99999'],
      code: 1,
      message: /'localhost:99999' has a port above 65535/,
    },
    {
      name: 'missing app module',
      args: ['start', 'nope/missing.js', '-b', '127.0.0.1:0'],
      code: 4,
      message: /app module 'nope\/missing.js' not found/,
    },
    {
      name: 'app throws on load',
      args: ['start', join(FIXTURES, 'throws-on-load.js'), '-b', '127.0.0.1:0'],
      code: 4,
      message: /failed to load: Error: database unreachable$/,
    },
    {
      name: 'export not a handler',
      args: ['start', join(FIXTURES, 'not-a-handler.js'), '-b', '127.0.0.1:0'],
      code: 4,
      message: /is number, expected a request listener/,
    },
    {
      name: 'missing export',
      args: ['start', join(FIXTURES, 'named-export.js') + ':nope', '-b', '127.0.0.1:0'],
      code: 4,
      message: /has no export 'nope' \(exports: api\)/,
    },
    {
      name: 'unwritable pidfile',
      args: ['start', HELLO, '-b', '127.0.0.1:0', '-p', '/nonexistent/dir/app.pid'],
      code: 1,
      message: /cannot write pidfile \/nonexistent\/dir\/app.pid: ENOENT/,
    },
    {
      name: 'unknown config key',
      args: ['start', HELLO, '-c', join(FIXTURES, 'unknown-key.config.json')],
      code: 1,
      message: /unknown setting 'wokers' \(did you mean 'workers'\?\)/,
    },
    {
      name: 'config syntax error',
      args: ['start', HELLO, '-c', join(FIXTURES, 'bad-syntax.config.js')],
      code: 1,
      message: /cannot load config file .*bad-syntax.config.js: .*Unexpected token/,
    },
    {
      name: 'missing config file',
      args: ['start', HELLO, '-c', 'nope.json'],
      code: 1,
      message: /cannot load config file .*nope.json: ENOENT/,
    },
    {
      name: 'port in use',
      args: [],
      code: 1,
      message: /cannot bind 127.0.0.1:\d+: address already in use/,
      setup: async () => {
        const busy = net.createServer().listen(0, '127.0.0.1');
        await new Promise((r) => busy.once('listening', r));
        cases.find((c) => c.name === 'port in use')!.args = [
          'start',
          HELLO,
          '-b',
          `127.0.0.1:${(busy.address() as net.AddressInfo).port}`,
        ];
        return () => busy.close();
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const teardown = await c.setup?.();
      const t0 = Date.now();
      const proc = run(c.args);
      const { code } = await proc.exit;
      teardown?.();
      assert.ok(Date.now() - t0 < 10_000);
      assert.equal(code, c.code, proc.output);
      const errors = proc.lines.filter((l) => l.startsWith('tsgund:'));
      assert.equal(errors.length, 1, proc.output);
      assert.match(errors[0]!, c.message);
      assert.doesNotMatch(proc.output, /\n\s+at /, 'no stack trace');
    });
  }
});
