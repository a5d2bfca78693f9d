import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  childrenOf,
  cleanup,
  freePort,
  isRunning,
  run,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

/** `start -D` of an app whose workers boot until the test says so; resolves once they are booting. */
async function bootingDaemon() {
  const dir = tempDir();
  dirs.push(dir);
  const pidfile = join(dir, 'app.pid');
  const marker = join(dir, 'booted');
  const launcher = run(
    [
      'start',
      join(FIXTURES, 'slow-boot.js'),
      '-D',
      '-w',
      '2',
      '-p',
      pidfile,
      '-b',
      `127.0.0.1:${await freePort()}`,
      '--error-logfile',
      join(dir, 'error.log'),
    ],
    { env: { BOOT_MARKER: marker } },
  );
  const master = (await waitFor(
    () => existsSync(pidfile) && Number(readFileSync(pidfile, 'utf8')),
    'the pidfile',
  )) as number;
  track(master);
  await waitFor(() => readdirSync(dir).filter((f) => f.endsWith('.booting')).length === 2, 'both workers booting');
  const workers = childrenOf(master);
  assert.equal(workers.length, 2);
  return { dir, pidfile, marker, launcher, master, workers };
}

describe('--daemon launcher interrupted while the daemon boots', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} to the launcher: it exits non-zero once the daemon, its workers and its pidfile are gone`, async () => {
      const d = await bootingDaemon();
      d.launcher.kill(sig);
      const { code } = await d.launcher.exit;
      assert.equal(code, 1, d.launcher.output);
      assert.match(d.launcher.output, new RegExp(`^tsgund: start interrupted by ${sig}: the daemon stopped`, 'm'));
      // no waiting: the launcher returned only after all of it was gone
      assert.equal(isRunning(d.master), false, 'master left running');
      assert.deepEqual(d.workers.filter(isRunning), [], 'workers left running');
      assert.equal(existsSync(d.pidfile), false, 'pidfile left behind');
      assert.equal(existsSync(`${d.pidfile}.sock`), false, 'control socket left behind');
    });
  }

  it('a launcher killed outright: the daemon sees its ready pipe close and stops by itself', async () => {
    const d = await bootingDaemon();
    d.launcher.kill('SIGKILL');
    await d.launcher.exit;
    await waitFor(() => !isRunning(d.master), 'the daemon to stop', 20_000);
    assert.deepEqual(d.workers.filter(isRunning), []);
    assert.equal(existsSync(d.pidfile), false);
  });
});
