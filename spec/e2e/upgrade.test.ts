import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  workersOf,
  cleanup,
  cmdline,
  freePort,
  isRunning,
  request,
  run,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';
import { Load } from '../support/load.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const readPid = (file: string): number => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0);

/** A daemonized master serving an editable app on TCP and a unix socket. */
async function daemon() {
  const dir = tempDir();
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const app = join(dir, 'app.js');
  writeFileSync(app, 'export default (req, res) => res.end(String(process.pid));\n');
  const pidfile = join(dir, 'app.pid');
  const sock = join(dir, 'app.sock');
  const port = await freePort();
  const start = run(
    [
      'start',
      app,
      '-D',
      '-w',
      '2',
      '-p',
      pidfile,
      '-b',
      `127.0.0.1:${port}`,
      '-b',
      `unix:${sock}`,
      '--error-logfile',
      join(dir, 'error.log'),
    ],
    { cwd: dir },
  );
  assert.equal((await start.exit).code, 0, start.output);
  const pid = readPid(pidfile);
  track(pid);
  return {
    dir,
    app,
    pidfile,
    sock,
    url: `http://127.0.0.1:${port}`,
    pid,
    log: () => readFileSync(join(dir, 'error.log'), 'utf8'),
  };
}

/** USR2 the master and wait until the new one has written <pidfile>.2 and booted. */
async function upgrade(d: Awaited<ReturnType<typeof daemon>>): Promise<number> {
  process.kill(d.pid, 'SIGUSR2');
  const child = await waitFor(() => readPid(d.pidfile + '.2'), 'pidfile.2', 15_000);
  track(child);
  await waitFor(() => workersOf(child).length === 2, "the new master's workers", 15_000);
  return child;
}

const viaSocket = (sock: string) => request('http://localhost/', { socketPath: sock });

describe('USR2 upgrade', () => {
  it('promotes the new master under load with zero failed requests: USR2, WINCH old, TERM old', async () => {
    const d = await daemon();
    const load = new Load(d.url, { keepAlive: 8, fresh: 4, path: '/' });
    await load.flowing();
    const oldWorkers = workersOf(d.pid);
    const child = await upgrade(d);
    assert.match(cmdline(child), /tsgund\.2: master/);
    assert.equal(readPid(d.pidfile), d.pid);
    await load.flowing(200);
    // both serve
    await waitFor(() => load.pidsSeen().some((p) => workersOf(child).includes(p)), 'the new workers serve');
    process.kill(d.pid, 'SIGUSR2');
    await waitFor(() => /USR2 refused: an upgraded master/.test(d.log()), 'second USR2 refused');
    process.kill(d.pid, 'SIGWINCH');
    // a worker that is exiting has an empty cmdline before it becomes a zombie: wait for the pids themselves
    await waitFor(() => oldWorkers.every((p) => !isRunning(p)), 'old workers stopped');
    assert.equal(workersOf(d.pid).length, 0);
    await load.flowing(200);
    process.kill(d.pid, 'SIGTERM');
    await waitFor(() => !isRunning(d.pid), 'old master exits');
    await waitFor(() => readPid(d.pidfile) === child && !existsSync(d.pidfile + '.2'), 'pidfile promoted');
    await waitFor(() => /tsgund: master/.test(cmdline(child)), 'the new master drops .2');
    await load.flowing(200);
    assert.equal((await viaSocket(d.sock)).status, 200, 'unix socket still served');
    const result = await load.stop();
    console.log(`# upgrade under load: ${result.ok} requests, ${result.failed} failed`);
    assert.equal(result.failed, 0, result.errors.join(', '));
    process.kill(child, 'SIGTERM');
    await waitFor(() => !isRunning(child), 'new master exits');
    assert.equal(existsSync(d.sock), false, 'unix socket removed at the final shutdown');
    assert.equal(existsSync(d.pidfile), false);
  });

  it('rolls back under load with zero failed requests: USR2, WINCH old, HUP old, TERM new', async () => {
    const d = await daemon();
    const load = new Load(d.url, { keepAlive: 8, fresh: 4, path: '/' });
    await load.flowing();
    const child = await upgrade(d);
    process.kill(d.pid, 'SIGWINCH');
    await waitFor(() => workersOf(d.pid).length === 0, 'old workers stopped');
    process.kill(d.pid, 'SIGHUP');
    await waitFor(() => workersOf(d.pid).length === 2, 'old master has workers again');
    process.kill(child, 'SIGTERM');
    await waitFor(() => !isRunning(child), 'new master exits');
    assert.equal(existsSync(d.pidfile + '.2'), false);
    assert.equal(readPid(d.pidfile), d.pid);
    assert.ok(existsSync(d.sock), 'the unix socket survives the new master');
    assert.equal((await viaSocket(d.sock)).status, 200);
    await load.flowing(200);
    const result = await load.stop();
    console.log(`# rollback under load: ${result.ok} requests, ${result.failed} failed`);
    assert.equal(result.failed, 0, result.errors.join(', '));
    process.kill(d.pid, 'SIGQUIT');
    await waitFor(() => !isRunning(d.pid), 'master exits');
  });

  it('a new master that fails to boot exits and leaves the old one serving', async () => {
    const d = await daemon();
    writeFileSync(d.app, "throw new Error('broken release');\n");
    process.kill(d.pid, 'SIGUSR2');
    await waitFor(() => /New master \(pid \d+\) exited with code 4/.test(d.log()), 'the new master gives up', 15_000);
    assert.equal(existsSync(d.pidfile + '.2'), false);
    assert.equal((await request(d.url + '/')).status, 200);
    assert.equal((await viaSocket(d.sock)).status, 200);
    process.kill(d.pid, 'SIGQUIT');
    await waitFor(() => !isRunning(d.pid), 'master exits');
  });
});
