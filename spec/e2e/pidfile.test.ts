// Root safety around the pidfile: how it is written, when a pid read from it
// may be signalled, and who may hold the control socket path next to it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exec } from '../support/exec.js';
import { cli } from '../support/exec.js';
import {
  CLI,
  HELLO,
  ROOT,
  cleanup,
  freePort,
  isRunning,
  run,
  startServer,
  tempDir,
  track,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const NOBODY = 65534;
const CONTROL_COMMANDS = ['stop', 'quit', 'reload', 'ttin', 'ttou', 'reopen-logs', 'upgrade', 'status'];

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

/** Process state letter from /proc ('S' sleeping, 'T' stopped by a signal such as TTIN). */
const stateOf = (pid: number): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;

/** Processes a stale pidfile may name: none of them may ever get a signal. */
const IMPOSTORS: Array<[string, () => number]> = [
  ['sleep 300', () => spawned('sleep', ['300'])],
  // a command line that merely contains "tsgund"
  ['vim tsgund.config.ts', () => spawned('sleep', ['300'], 'vim tsgund.config.ts')],
  // even the title of a master: the title proves nothing
  [
    'a process titled "tsgund: master [app.js]"',
    () => spawned(process.execPath, ['-e', 'process.title = "tsgund: master [app.js]"; setInterval(() => {}, 1e6)']),
  ],
];

function spawned(file: string, args: string[], argv0?: string): number {
  const child = spawn(file, args, { stdio: 'ignore', argv0 });
  track(child.pid!);
  return child.pid!;
}

function assertUntouched(pid: number, what: string): void {
  assert.ok(isRunning(pid), `${what} was killed`);
  assert.notEqual(stateOf(pid), 'T', `${what} was stopped by a signal`);
}

describe('pidfile', () => {
  it('is written through an unpredictable temp file: planted symlinks redirect nothing', async () => {
    // a directory nobody can write, where nobody planted a symlink to a
    // root-only file at every name the pidfile's temp file could predictably take
    const d = dir();
    chownSync(d, NOBODY, NOBODY);
    const secretDir = dir();
    const secret = join(secretDir, 'shadow');
    writeFileSync(secret, 'root only\n', { mode: 0o600 });
    const pidfile = join(d, 'app.pid');
    const last = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    const planted = [pidfile, `${pidfile}.tmp`, `${pidfile}.2`];
    for (let pid = last + 1; pid <= last + 3000; pid++) planted.push(`${pidfile}.${pid}.tmp`);
    for (const link of planted) {
      symlinkSync(secret, link);
      lchownSync(link, NOBODY, NOBODY);
    }

    const { proc } = await startServer(['-w', '1', '-p', pidfile]);
    assert.equal(readFileSync(secret, 'utf8'), 'root only\n', 'the root-only file was written through a symlink');
    assert.equal(statSync(secret).mode & 0o777, 0o600);
    assert.equal(statSync(secret).uid, 0);
    const written = lstatSync(pidfile);
    assert.ok(written.isFile(), 'the pidfile is a regular file, not the planted link');
    assert.equal(written.mode & 0o777, 0o644);
    assert.equal(readFileSync(pidfile, 'utf8'), `${proc.pid}\n`);
    const left = readdirSync(d).filter((f) => f === 'app.pid' || !planted.includes(join(d, f)));
    assert.deepEqual(left.sort(), ['app.pid', 'app.pid.sock'], 'no temp file left behind');

    const stop = await cli(['stop', '-p', pidfile]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, `master ${proc.pid} stopped\n`);
    assert.equal(existsSync(pidfile), false);
  });

  for (const [what, start] of IMPOSTORS) {
    it(`naming ${what}: every control command refuses, exit 1, and signals nothing`, async () => {
      const pid = start();
      const pidfile = join(dir(), 'app.pid');
      writeFileSync(pidfile, `${pid}\n`);
      for (const cmd of CONTROL_COMMANDS) {
        const done = await cli([cmd, '-p', pidfile]);
        assert.equal(done.code, 1, `${cmd}: ${done.stdout}${done.stderr}`);
        assert.equal(done.stdout, '');
        assert.equal(
          done.stderr,
          `tsgund: pidfile ${pidfile} is stale: pid ${pid} is not the tsgund master of it, so it gets no signal\n`,
          cmd,
        );
        assertUntouched(pid, what);
      }
      process.kill(pid, 'SIGKILL');
    });
  }

  it('start takes over a stale pidfile, refuses a live master of it, and stop ends only that master', async () => {
    const impostor = spawned('sleep', ['300'], 'vim tsgund.config.ts');
    const pidfile = join(dir(), 'app.pid');
    writeFileSync(pidfile, `${impostor}\n`);
    const { proc } = await startServer(['-w', '1', '-p', pidfile]);
    assert.equal(readFileSync(pidfile, 'utf8'), `${proc.pid}\n`);

    const second = run(['start', HELLO, '-w', '1', '-b', `127.0.0.1:${await freePort()}`, '-p', pidfile]);
    assert.equal((await second.exit).code, 1);
    assert.equal(
      second.lines.at(-1),
      `tsgund: pidfile ${pidfile} names a running master (pid ${proc.pid}); stop it first or use another --pid`,
    );
    assert.equal(readFileSync(pidfile, 'utf8'), `${proc.pid}\n`, 'the refused start left the pidfile alone');

    const reload = await cli(['reload', '-p', pidfile]);
    assert.equal(reload.stdout, `reloaded master ${proc.pid}: generation 2 serving with 1 worker(s)\n`);
    const stop = await cli(['stop', '-p', pidfile]);
    assert.equal(stop.stdout, `master ${proc.pid} stopped\n`);
    assert.equal((await proc.exit).code, 0);
    assertUntouched(impostor, 'the stale pid');
    process.kill(impostor, 'SIGKILL');
  });

  it('init.d stop, status, reload, rotate and upgrade leave the process of a stale pidfile alone', async () => {
    const impostor = spawned('sleep', ['300'], 'vim tsgund.config.ts');
    const d = dir();
    const pidfile = join(d, 'app.pid');
    writeFileSync(pidfile, `${impostor}\n`);
    const wrapper = join(d, 'tsgund');
    writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`, { mode: 0o755 });
    const defaults = join(d, 'defaults');
    writeFileSync(defaults, `APP_DIR='${ROOT}'\nAPP='${HELLO}'\nPIDFILE='${pidfile}'\nTSGUND='${wrapper}'\n`);
    const action = (name: string) =>
      exec('bash', [join(ROOT, 'scripts/init.d/tsgund'), name], {
        env: { ...process.env, TSGUND_DEFAULTS: defaults },
      });
    const stale = `stale pidfile: pid ${impostor} is not the tsgund master of it`;

    const status = await action('status');
    assert.equal(status.code, 1, 'LSB: dead with a pidfile');
    assert.equal(status.stdout, `tsgund is not running, but the pidfile ${pidfile} exists (${stale})\n`);
    for (const name of ['reload', 'rotate', 'upgrade']) {
      const done = await action(name);
      assert.equal(done.code, 7, `${name}: LSB not running`);
      assert.equal(done.stderr, `tsgund: not running (${pidfile}: ${stale})\n`);
    }
    const stop = await action('stop');
    assert.equal(stop.code, 0, 'LSB: stopping a stopped service succeeds');
    assert.equal(
      stop.stdout,
      `tsgund was not running, but the pidfile ${pidfile} exists (${stale}); removed it, signalled nothing\n`,
    );
    assert.equal(existsSync(pidfile), false);
    assertUntouched(impostor, 'the stale pid');
    process.kill(impostor, 'SIGKILL');
  });
});

describe('control socket path held by another user', () => {
  it("refuses to start, names the owner, and neither removes nor follows nobody's file", {
    timeout: 60_000,
  }, async () => {
    // a sticky world-writable directory, as /tmp is
    const d = dir();
    chmodSync(d, 0o1777);
    const pidfile = join(d, 'app.pid');
    const sock = `${pidfile}.sock`;
    const made = await exec('runuser', [
      '-u',
      'nobody',
      '--',
      'python3',
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(sock)})`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const before = lstatSync(sock);
    assert.ok(before.isSocket());
    assert.equal(before.uid, NOBODY);

    const proc = run(['start', HELLO, '-w', '1', '-b', `127.0.0.1:${await freePort()}`, '-p', pidfile]);
    assert.equal((await proc.exit).code, 1);
    assert.match(
      proc.lines.at(-1)!,
      new RegExp(
        `^tsgund: control socket ${sock} already exists and belongs to nobody \\(uid 65534\\), not to root \\(uid 0\\): .*remove it.* /run/tsgund/`,
      ),
    );
    assert.equal(proc.count(/^tsgund: /), 1, proc.output);
    const after = lstatSync(sock);
    assert.equal(after.ino, before.ino, "nobody's socket was replaced");
    assert.equal(after.uid, NOBODY);
    assert.equal(existsSync(pidfile), false, 'the failed start left its pidfile');
  });
});
