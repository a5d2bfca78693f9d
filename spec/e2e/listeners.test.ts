// lib/listeners relies on Node internals (bound-but-not-listening handles,
// listening on a received pipe handle): every kind of socket, kept over HUP
// and handed over on USR2, in one run. CI runs the end-to-end suite on Node
// 22, 24 and 26, so this covers each of them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  HELLO,
  cleanup,
  freePort,
  isRunning,
  request,
  run,
  tempDir,
  track,
  waitFor,
  workersOf,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe(`listeners on Node ${process.version}`, () => {
  it('binds TCP v4/v6, unix and fd sockets, keeps them over HUP and hands them over on USR2', async () => {
    const { bindListener } = await import('../../lib/listeners/handles.js');
    const dir = tempDir();
    dirs.push(dir);
    const [p4, p6, pfd] = [await freePort(), await freePort(), await freePort()];
    const sock = join(dir, 's.sock');
    const pidfile = join(dir, 'm.pid');
    const inherited = await bindListener({ kind: 'tcp', host: '127.0.0.1', port: pfd });
    const proc = run(
      [
        'start',
        HELLO,
        '-w',
        '2',
        '-p',
        pidfile,
        '-b',
        `127.0.0.1:${p4}`,
        '-b',
        `[::1]:${p6}`,
        '-b',
        `unix:${sock}`,
        '-b',
        'fd://3',
      ],
      { stdio: ['ignore', 'pipe', 'pipe', inherited.handle.fd] },
    );
    inherited.handle.close();
    await proc.line(/Booted 2 worker/, 15_000);
    const all = async () => {
      for (const r of [
        await request(`http://127.0.0.1:${p4}/`),
        await request(`http://[::1]:${p6}/`),
        await request('http://localhost/', { socketPath: sock }),
        await request(`http://127.0.0.1:${pfd}/`),
      ])
        assert.equal(r.status, 200);
    };
    await all();
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 15_000);
    await all();
    proc.kill('SIGUSR2');
    const child = await waitFor(
      () => (existsSync(pidfile + '.2') ? Number(readFileSync(pidfile + '.2', 'utf8')) : 0),
      'new master',
      15_000,
    );
    track(child);
    await waitFor(() => workersOf(child).length === 2, 'new master workers', 15_000);
    proc.kill('SIGTERM');
    await proc.exit;
    await waitFor(() => Number(readFileSync(pidfile, 'utf8')) === child, 'promotion');
    await all();
    process.kill(child, 'SIGTERM');
    await waitFor(() => !isRunning(child), 'new master exit');
    assert.equal(existsSync(sock), false);
  });
});
