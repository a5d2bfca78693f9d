import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  HELLO,
  Proc,
  childrenOf,
  cleanup,
  freePort,
  isRunning,
  request,
  run,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, tty_nr, …]. */
const stat = (pid: number): string[] => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
};

async function startDaemon(extra: string[] = [], app = HELLO) {
  const dir = tempDir();
  dirs.push(dir);
  const pidfile = join(dir, 'app.pid');
  const port = await freePort();
  const proc = run([
    'start',
    app,
    '-D',
    '-p',
    pidfile,
    '-b',
    `127.0.0.1:${port}`,
    '--error-logfile',
    join(dir, 'error.log'),
    ...extra,
  ]);
  const { code } = await proc.exit;
  const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0;
  if (pid) track(pid);
  return { proc, code, pid, pidfile, port, dir, url: `http://127.0.0.1:${port}`, errorLog: join(dir, 'error.log') };
}

describe('--daemon', () => {
  it('returns 0 only once the detached master and its workers serve', async () => {
    const d = await startDaemon(['-w', '2']);
    assert.equal(d.code, 0, d.proc.output);
    assert.match(d.proc.output, /daemon started \(master pid \d+\)/);
    // no wait: the command returned after readiness
    assert.equal((await request(d.url + '/')).status, 200);
    const [, , , session, tty] = stat(d.pid);
    assert.equal(Number(session), d.pid, 'the master leads its own session');
    assert.equal(Number(tty), 0, 'no controlling terminal');
    assert.notEqual(Number(stat(d.pid)[1]), process.pid, 'not our child');
    assert.equal(childrenOf(d.pid).length, 2);
    process.kill(d.pid, 'SIGTERM');
    await waitFor(() => !isRunning(d.pid), 'daemon to stop');
    assert.equal(existsSync(d.pidfile), false);
  });

  it('fails with the boot error and leaves no daemon behind', async () => {
    const bad = await startDaemon([], join(FIXTURES, 'throws-on-load.js'));
    assert.equal(bad.code, 4);
    // the report keeps its lines through the ready pipe: the place and the source line
    assert.match(
      bad.proc.output,
      /tsgund: app .* failed to load: Error: database unreachable\n.*throws-on-load\.js:1:7\nthrow new Error\('database unreachable'\);\n {6}\^/,
    );
    assert.equal(existsSync(bad.pidfile), false, 'no pidfile left');

    const busy = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => busy.once('listening', r));
    const port = (busy.address() as net.AddressInfo).port;
    const proc = run(['start', HELLO, '-D', '-b', `127.0.0.1:${port}`]);
    assert.equal((await proc.exit).code, 1);
    assert.match(proc.output, /tsgund: cannot bind 127.0.0.1:\d+: address already in use/);
    busy.close();
  });

  it('WINCH stops the workers but keeps the socket; HUP brings them back and serves what waited', async () => {
    const d = await startDaemon(['-w', '2']);
    assert.equal(d.code, 0);
    const workers = childrenOf(d.pid);
    process.kill(d.pid, 'SIGWINCH');
    await waitFor(() => childrenOf(d.pid).length === 0, 'all workers stopped');
    // the connection is accepted by the kernel into the backlog and waits
    const client = net.connect(Number(new URL(d.url).port), '127.0.0.1');
    await once(client, 'connect');
    client.end('GET / HTTP/1.0\r\n\r\n');
    let answer = '';
    client.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    process.kill(d.pid, 'SIGHUP');
    await once(client, 'close');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    await waitFor(() => childrenOf(d.pid).length === 2, 'two new workers');
    assert.ok(childrenOf(d.pid).every((p) => !workers.includes(p)));
    process.kill(d.pid, 'SIGQUIT');
    await waitFor(() => !isRunning(d.pid), 'daemon to stop');
  });
});

describe('WINCH in the foreground', () => {
  it('is ignored: a terminal sends it on every resize', async () => {
    // `script` gives the master a controlling terminal, as in an interactive shell
    const port = await freePort();
    const dir = tempDir();
    dirs.push(dir);
    const pidfile = join(dir, 'fg.pid');
    const cmd = `${process.execPath} dist/lib/cli/main.js start ${HELLO} -w 1 -b 127.0.0.1:${port} -p ${pidfile}`;
    const { spawn } = await import('node:child_process');
    const term = new Proc(spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const pid = await waitFor(() => (existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0), 'pidfile');
    track(pid);
    await waitFor(() => childrenOf(pid).length === 1, 'one worker');
    await waitFor(async () => (await request(`http://127.0.0.1:${port}/`)).status === 200, 'serving');
    const worker = childrenOf(pid)[0]!;
    process.kill(pid, 'SIGWINCH');
    await term.line(/WINCH ignored: running in a terminal/);
    assert.deepEqual(childrenOf(pid), [worker]);
    process.kill(pid, 'SIGQUIT');
    await waitFor(() => !isRunning(pid), 'master to stop');
  });
});

describe('control commands', () => {
  const ctl = async (...args: string[]) => {
    const proc = run(args);
    const { code } = await proc.exit;
    return { code, out: proc.output };
  };

  it('signal the master named by the pidfile', async () => {
    const d = await startDaemon(['-w', '1']);
    assert.equal(d.code, 0);
    assert.equal((await ctl('ttin', '-p', d.pidfile)).code, 0);
    await waitFor(() => childrenOf(d.pid).length === 2, 'two workers');
    assert.equal((await ctl('ttou', '-p', d.pidfile)).code, 0);
    await waitFor(() => childrenOf(d.pid).length === 1, 'one worker');
    const before = childrenOf(d.pid);
    const reload = await ctl('reload', '-p', d.pidfile);
    assert.match(reload.out, new RegExp(`reloaded master ${d.pid}: generation \\d+ serving with 1 worker`));
    await waitFor(() => childrenOf(d.pid).length === 1 && childrenOf(d.pid)[0] !== before[0], 'a new generation');
    assert.equal((await ctl('reopen-logs', '-p', d.pidfile)).code, 0);
    await waitFor(() => /USR1, reopening log files/.test(readFileSync(d.errorLog, 'utf8')), 'USR1 logged');
    const stop = await ctl('stop', '-p', d.pidfile);
    assert.equal(stop.code, 0);
    assert.match(stop.out, new RegExp(`master ${d.pid} stopped`));
    assert.equal(isRunning(d.pid), false, 'stop returns once the master is gone');
  });

  it('explain a missing or stale pidfile in one line', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const missing = await ctl('reload', '-p', join(dir, 'none.pid'));
    assert.equal(missing.code, 1);
    assert.match(missing.out, /^tsgund: pidfile .*none.pid does not exist/);
    const stale = join(dir, 'stale.pid');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(stale, '999999\n');
    const result = await ctl('stop', '-p', stale);
    assert.equal(result.code, 1);
    assert.match(result.out, /^tsgund: pidfile .*stale.pid names pid 999999, which is not running \(stale pidfile\)$/);
  });
});
