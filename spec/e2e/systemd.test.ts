import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CLI,
  HELLO,
  ROOT,
  Proc,
  childrenOf,
  cleanup,
  cmdline,
  freePort,
  isRunning,
  request,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';
import { exec, which } from '../support/exec.js';
import { NotifySocket } from '../support/notify-socket.js';

const ACTIVATE = which('systemd-socket-activate');
const missing = ['systemd-socket-activate', 'systemd-notify', 'perl'].filter((tool) => !which(tool));
const dirs: string[] = [];
after(() => cleanup(dirs));

/** The shipped service unit, its example paths pointed at things that exist here. */
const unitHere = (dir: string): string =>
  readFileSync(join(ROOT, 'config/systemd/tsgund.service'), 'utf8')
    .replace(/\/usr\/bin\/node /g, `${process.execPath} `)
    .replace(/\/srv\/app\/node_modules\/tsgund\/dist\/lib\/cli\/main\.js/g, CLI)
    .replace(/\/srv\/app/g, dir);

describe('systemd', () => {
  it('socket activation: workers serve the passed socket across a HUP; READY, RELOADING, STOPPING are notified', {
    skip: missing.length ? `missing ${missing.join(', ')}` : false,
  }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    const notify = await NotifySocket.listen(join(dir, 'notify'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // systemd-socket-activate passes on only the variables named with -E
    const proc = new Proc(
      spawn(
        ACTIVATE!,
        [
          '-l',
          `127.0.0.1:${port}`,
          '--fdname=http',
          '-E',
          'NOTIFY_SOCKET',
          '--',
          process.execPath,
          CLI,
          'start',
          HELLO,
          '-w',
          '2',
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NOTIFY_SOCKET: join(dir, 'notify'), WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
        },
      ),
    );
    await proc.line(/Listening on 127\.0\.0\.1:\d+ as 3/);
    // without --accept, the first connection starts the service; it waits in the backlog meanwhile
    const first = await request(url + '/pid');
    assert.equal(first.status, 200);
    assert.match(cmdline(proc.pid), /tsgund: master \[/, 'systemd-socket-activate execs the master in place');
    assert.ok(childrenOf(proc.pid).includes(Number(first.body)), 'answered by a worker of the master');
    await proc.line(/Listening at: systemd:fd:\/\/3 \(http\)/);
    const main = `MAINPID=${proc.pid}`;
    await waitFor(() => notify.messages.some((m) => m.startsWith(`${main} READY=1`)), `READY=1 in ${notify.messages}`);

    const before = childrenOf(proc.pid);
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 20_000);
    await waitFor(() => notify.messages.length >= 3, 'READY=1 after the reload');
    const answered = Number((await request(url + '/pid')).body);
    assert.ok(
      !before.includes(answered) && childrenOf(proc.pid).includes(answered),
      'a new-generation worker answers on the same socket',
    );
    assert.doesNotMatch(proc.output, /Listening at: http|Closing listener/, 'HUP keeps the socket systemd passed');

    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    await waitFor(() => notify.messages.length >= 4, 'STOPPING=1');
    notify.close();
    assert.deepEqual(
      notify.messages.map((m) => m.replace(/ STATUS=.*/, '')),
      [`${main} READY=1`, `${main} RELOADING=1`, `${main} READY=1`, `${main} STOPPING=1`],
    );
  });

  it('socket activation: a USR2 upgrade hands the passed socket to the new master, which keeps it', {
    skip: missing.length ? `missing ${missing.join(', ')}` : false,
  }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const pidfile = join(dir, 'app.pid');
    const proc = new Proc(
      spawn(
        ACTIVATE!,
        [
          '-l',
          `127.0.0.1:${port}`,
          '--fdname=http',
          '--',
          process.execPath,
          CLI,
          'start',
          HELLO,
          '-w',
          '1',
          '-p',
          pidfile,
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
        },
      ),
    );
    await proc.line(/Listening on 127\.0\.0\.1:\d+ as 3/);
    assert.equal((await request(url + '/pid')).status, 200);
    proc.kill('SIGUSR2');
    const child = Number((await proc.line(/started new master \(pid (\d+)\)/))[1]);
    track(child);
    await waitFor(
      () => proc.count(/Listening at: systemd:fd:\/\/3 \(http\)/) === 2,
      'the new master serves the systemd socket',
    );
    await waitFor(() => proc.count(/Booted 1 worker/) === 2, 'the new master booted');
    proc.kill('SIGTERM');
    await proc.exit;
    await waitFor(() => readFileSync(pidfile, 'utf8').trim() === String(child), 'promotion');
    const reply = await request(url + '/pid');
    assert.ok(childrenOf(child).includes(Number(reply.body)), "the new master's worker answers");
    assert.doesNotMatch(proc.output, /Listening at: http/, 'bind was not used');
    process.kill(child, 'SIGTERM');
    await waitFor(() => !isRunning(child), 'new master exits');
  });

  it('config/systemd units pass systemd-analyze verify', {
    skip: which('systemd-analyze') ? false : 'no systemd-analyze',
  }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir, 'tsgund.service'), unitHere(dir));
    copyFileSync(join(ROOT, 'config/systemd/tsgund.socket'), join(dir, 'tsgund.socket'));
    const done = await exec(which('systemd-analyze')!, [
      'verify',
      '--man=no',
      join(dir, 'tsgund.socket'),
      join(dir, 'tsgund.service'),
    ]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout + done.stderr, '');
  });

  it('the service unit is sandboxed: systemd-analyze security rates its exposure 2.5 or lower', {
    skip: which('systemd-analyze') ? false : 'no systemd-analyze',
  }, async (t) => {
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir, 'tsgund.service'), unitHere(dir));
    const done = await exec(which('systemd-analyze')!, [
      'security',
      '--offline=true',
      '--no-pager',
      join(dir, 'tsgund.service'),
    ]);
    const text = done.stdout + done.stderr;
    if (/unrecognized option|unknown option/i.test(text)) return t.skip('this systemd-analyze has no --offline');
    const exposure = /Overall exposure level for tsgund\.service: (\d+\.\d+)/.exec(text);
    assert.ok(exposure, text);
    const open = text.split('\n').filter((l) => l.startsWith('✗'));
    assert.ok(Number(exposure[1]) <= 2.5, `exposure ${exposure[1]}; open:\n${open.join('\n')}`);
  });

  it("-u works with no more than the unit's capabilities: workers as nobody serve TCP and a unix socket across a HUP", {
    skip: process.getuid?.() !== 0 ? 'needs root' : !which('setpriv') && 'no setpriv',
  }, async () => {
    const dir = tempDir();
    dirs.push(dir);
    chmodSync(dir, 0o755);
    const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unitHere(dir))![1]!.trim().split(/\s+/);
    const sock = join(dir, 'app.sock');
    const port = await freePort();
    const proc = new Proc(
      spawn(
        which('setpriv')!,
        [
          '--no-new-privs',
          '--bounding-set',
          ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(','),
          '--',
          process.execPath,
          CLI,
          'start',
          HELLO,
          '-w',
          '2',
          '-u',
          'nobody',
          '-g',
          'nogroup',
          '-b',
          `127.0.0.1:${port}`,
          '-b',
          `unix:${sock}`,
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
        },
      ),
    );
    await proc.line(/Booted 2 worker/, 15_000);
    const capEff = BigInt(`0x${/^CapEff:\s+(\w+)/m.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]}`);
    const expected = caps.reduce((mask, c) => mask | (1n << BigInt(CAP_BITS[c]!)), 0n);
    assert.equal(capEff, expected, "the master runs with the unit's capabilities only");
    const worker = Number((await request(`http://127.0.0.1:${port}/pid`)).body);
    assert.match(readFileSync(`/proc/${worker}/status`, 'utf8'), /^Uid:\s+65534\s/m);
    const st = statSync(sock);
    assert.deepEqual([st.uid, st.gid], [0, 65534], "the unix socket is root's, in the workers' group");
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 20_000);
    assert.equal((await request('http://localhost/', { socketPath: sock })).status, 200);
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    assert.doesNotMatch(proc.output, /EPERM|EACCES|ERROR/);
  });
});

/** Bit numbers of the capabilities a unit may name (linux/capability.h). */
const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FOWNER: 3,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_NET_BIND_SERVICE: 10,
};
