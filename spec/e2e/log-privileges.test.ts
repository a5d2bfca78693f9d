// Log files and worker identity with the master as root and workers as the
// real `nobody`: planted symlinks, legitimate links, rotation with -u, a
// failing reopen, the worker's environment and its supplementary groups.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  lchownSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  HELLO,
  cleanup,
  freePort,
  request,
  run,
  startServer,
  tempDir,
  waitFor,
  workersOf,
} from '../support/harness.js';
import { exec, which } from '../support/exec.js';
import { NumberedRequests, accessLogAccounting, linesOf, read } from '../support/numbered-requests.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const NOBODY = 65534;
const LOGROTATE = which('logrotate');
const ENV_APP = join(FIXTURES, 'env-app.js');

/** A fresh directory owned by root, mode `mode` (0755: nobody may enter it, not write to it). */
function rootDir(mode: number): string {
  const dir = tempDir();
  dirs.push(dir);
  chmodSync(dir, mode);
  return dir;
}

/** The state of a file that must not change: owner, mode and content. */
const snapshot = (file: string) => {
  const st = statSync(file);
  return { uid: st.uid, gid: st.gid, mode: st.mode, content: readFileSync(file, 'utf8') };
};

const statusField = (pid: number, field: string): string =>
  new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!.trim();

describe('log files as root', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  for (const { name, plant } of [
    {
      name: 'a directory owned by nobody',
      plant: (dir: string) => chownSync(dir, NOBODY, NOBODY),
    },
    {
      name: 'a sticky world-writable directory (a symlink owned by nobody)',
      plant: (dir: string) => {
        chmodSync(dir, 0o1777);
        lchownSync(join(dir, 'error.log'), NOBODY, NOBODY);
      },
    },
  ]) {
    it(`refuses an error log symlinked to a root-only file from ${name}: exit 1, the file untouched`, async () => {
      const secretDir = rootDir(0o700);
      const secret = join(secretDir, 'shadow');
      writeFileSync(secret, 'root:secret\n', { mode: 0o600 });
      const before = snapshot(secret);
      // inside a root-owned directory, so that only the planted symlink is at fault
      const planted = join(rootDir(0o755), 'logs');
      mkdirSync(planted, { mode: 0o755 });
      symlinkSync(secret, join(planted, 'error.log'));
      plant(planted);

      const port = await freePort();
      const proc = run([
        'start',
        HELLO,
        '-u',
        'nobody',
        '-b',
        `127.0.0.1:${port}`,
        '--error-logfile',
        join(planted, 'error.log'),
      ]);
      assert.equal((await proc.exit).code, 1);
      assert.equal(proc.lines.length, 1, proc.output);
      assert.match(
        proc.output,
        new RegExp(`^tsgund: setting 'errorlog': refusing to follow symlink ${join(planted, 'error.log')}: `),
      );
      assert.deepEqual(snapshot(secret), before);
    });
  }

  it('/dev/stdout as the access log: lines reach the master stdout, which keeps its owner', async () => {
    const dir = rootDir(0o700);
    const out = join(dir, 'stdout.txt');
    const fd = openSync(out, 'a', 0o600);
    const before = statSync(out);
    const port = await freePort();
    const proc = run(['start', HELLO, '-u', 'nobody', '-b', `127.0.0.1:${port}`, '--access-logfile', '/dev/stdout'], {
      stdio: ['ignore', fd, 'pipe'],
    });
    closeSync(fd);
    await proc.line(/Booted 1 worker/, 15_000);
    assert.equal((await request(`http://127.0.0.1:${port}/via-stdout`)).status, 200);
    await waitFor(() => read(out).includes('"GET /via-stdout HTTP/1.1" 200'), 'the access line on stdout');
    const after = statSync(out);
    assert.deepEqual([after.uid, after.gid, after.mode], [before.uid, before.gid, before.mode]);
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
  });

  it('a root-owned symlinked log directory that nobody cannot even enter', async () => {
    const base = rootDir(0o700);
    mkdirSync(join(base, 'real'), { mode: 0o755 });
    symlinkSync(join(base, 'real'), join(base, 'logs'));
    const { proc, url, errors } = await start(base, 'logs', ['-w', '1']);
    assert.equal((await request(`${url}/through-the-link`)).status, 200);
    await waitFor(
      () => read(join(base, 'real/access.log')).includes('"GET /through-the-link HTTP/1.1" 200'),
      'the access line',
    );
    assert.match(read(errors), /Booted 1 worker/);
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
  });

  it('-u nobody, logs in a root-owned directory: 3 rotations (mv + USR1) under load, no restart, no line lost', async () => {
    const dir = rootDir(0o755);
    const { proc, url, errors, access } = await start(dir, '.', ['-w', '2']);
    const workers = workersOf(proc.pid);
    assert.equal(workers.length, 2);
    const load = new NumberedRequests(url);
    await load.flowing(200);
    const rotations = 3;
    for (let i = 1; i <= rotations; i++) {
      renameSync(access, `${access}.${i}`);
      renameSync(errors, `${errors}.${i}`);
      if (i === 2) {
        // as logrotate's `create 0640 nobody adm` would; the master creates the others itself
        for (const file of [access, errors]) closeSync(openSync(file, 'a', 0o640));
        for (const file of [access, errors]) chownSync(file, NOBODY, 4);
      }
      proc.kill('SIGUSR1');
      await waitFor(() => reopenLines(errors, i).length === 3 * i, `the master and both workers to reopen (${i})`);
      await load.flowing(200);
      await waitFor(() => linesOf(access).length > 0, `the new access.log to be written (${i})`);
    }
    await assertRotatedCleanly({ proc, load, workers, access, errors }, 3);
    assert.equal(statSync(access).uid, NOBODY, 'a log file the master creates belongs to the workers');
  });

  it('-u nobody, logs under a 0750 root-owned parent: 4 rotations under load, every process on the fresh files', async (t) => {
    // nobody cannot even enter `dir`: the workers could never open a path under it
    const dir = rootDir(0o750);
    mkdirSync(join(dir, 'app'), { mode: 0o755 });
    const { proc, url, errors, access } = await start(dir, 'app', ['-w', '2']);
    const workers = workersOf(proc.pid);
    assert.equal(workers.length, 2);
    const load = new NumberedRequests(url);
    t.after(() => load.stop()); // also when an assertion fails midway
    await load.flowing(200);
    const rotations = 4;
    for (let i = 1; i <= rotations; i++) {
      renameSync(access, `${access}.${i}`);
      renameSync(errors, `${errors}.${i}`);
      proc.kill('SIGUSR1');
      await waitFor(() => reopenLines(errors, i).length === 3 * i, `the master and both workers to reopen (${i})`);
      await load.flowing(200);
      await waitFor(() => linesOf(access).length > 0, `the new access.log to be written (${i})`);
      // once every process has reopened, nothing more goes into the rotated file
      const rotated = read(`${access}.${i}`).length;
      await load.flowing(200);
      assert.equal(read(`${access}.${i}`).length, rotated, `lines still go to ${access}.${i}`);
    }
    await assertRotatedCleanly({ proc, load, workers, access, errors }, rotations);
    // each worker's line about rotation k+1 went into the file fresh since rotation k
    for (let k = 2; k <= rotations; k++) {
      const text = read(`${errors}.${k}`);
      for (const pid of workers)
        assert.match(text, new RegExp(`\\[${pid}\\] \\[INFO\\] reopening log files`), `${errors}.${k}`);
    }
  });

  it('logrotate with -u nobody, logs under a 0750 root-owned parent: 3 rotations under load, nothing lost', {
    skip: !LOGROTATE && 'logrotate is not installed',
  }, async (t) => {
    const dir = rootDir(0o750);
    mkdirSync(join(dir, 'app'), { mode: 0o755 });
    const pidfile = join(dir, 'app', 'app.pid');
    const { proc, url, errors, access } = await start(dir, 'app', ['-w', '2', '-p', pidfile]);
    const workers = workersOf(proc.pid);
    const config = join(dir, 'logrotate.conf');
    writeFileSync(
      config,
      `${access} ${errors} {\n  rotate 5\n  create 0640 nobody root\n  sharedscripts\n  postrotate\n    kill -USR1 "$(cat ${pidfile})"\n  endscript\n}\n`,
    );
    const load = new NumberedRequests(url);
    t.after(() => load.stop());
    await load.flowing(200);
    for (let i = 1; i <= 3; i++) {
      const done = await exec(LOGROTATE!, ['-s', join(dir, 'state'), '-f', config]);
      assert.equal(done.code, 0, `logrotate: ${done.stdout}${done.stderr}`);
      await waitFor(() => reopenLines(errors, 3).length === 3 * i, `the master and both workers to reopen (${i})`);
      await load.flowing(200);
      await waitFor(() => linesOf(access).length > 0, `the new access.log to be written (${i})`);
    }
    await assertRotatedCleanly({ proc, load, workers, access, errors }, 3);
  });

  it('a worker that cannot reopen its path and was handed nothing retires and is replaced: no error, no line lost', async (t) => {
    const dir = rootDir(0o750);
    mkdirSync(join(dir, 'app'), { mode: 0o755 });
    const { proc, url, errors, access } = await start(dir, 'app', ['-w', '2']);
    const workers = workersOf(proc.pid);
    const load = new NumberedRequests(url);
    t.after(() => load.stop());
    await load.flowing(200);
    // a USR1 straight to a worker, not through the master: no descriptors wait for it, and nobody cannot reach the path
    process.kill(workers[0]!, 'SIGUSR1');
    await waitFor(() => {
      const now = workersOf(proc.pid);
      return now.length === 2 && !now.includes(workers[0]!) && now.includes(workers[1]!);
    }, 'a replacement for the worker');
    await load.flowing(200);
    await load.stop();
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
    assert.deepEqual(load.failures, []);
    assert.deepEqual(accessLogAccounting([access], load.ok), { twice: [], missing: [], unknown: [] });
    assert.match(read(errors), new RegExp(`Worker ${workers[0]} is retiring: cannot reopen log file: .*EACCES`));
    assert.doesNotMatch(read(errors), /\[ERROR\]|\[CRITICAL\]/);
  });

  it('a reopen that fails in the master keeps the old file, one error line; the workers follow the master', async (t) => {
    const dir = rootDir(0o755);
    const { proc, url, errors, access } = await start(dir, '.', ['-w', '2']);
    const workers = workersOf(proc.pid);
    const load = new NumberedRequests(url);
    t.after(() => load.stop());
    await load.flowing(100);
    renameSync(errors, `${errors}.1`);
    mkdirSync(errors); // nothing can open a file there: EISDIR, for root as for nobody
    renameSync(access, `${access}.1`);
    proc.kill('SIGUSR1');
    const failed = () =>
      read(`${errors}.1`)
        .split('\n')
        .filter((l) => l.includes('cannot reopen log file'));
    await waitFor(() => failed().length === 1, "the master's error line");
    // the master's reopen of the error log failed, yet the workers got USR1 and moved the access log on
    await load.flowing(100);
    await waitFor(() => linesOf(access).length > 0, 'the new access.log to be written');
    const reopened = () =>
      read(`${errors}.1`).match(/ \[INFO\] (Handling signal: USR1, )?reopening log files$/gm) ?? [];
    await waitFor(() => reopened().length === 3, 'the master and both workers to reopen');
    await load.stop();
    assert.deepEqual(workersOf(proc.pid), workers);
    // the workers take the master's descriptors: they keep the old error log with it, and say nothing
    assert.equal(failed().length, 1, failed().join('\n'));
    assert.match(
      failed()[0]!,
      new RegExp(`\\[${proc.pid}\\] \\[ERROR\\] cannot reopen log file: cannot open ${errors}: EISDIR; still writing`),
    );
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
    assert.match(read(`${errors}.1`), /Shutting down: tsgund master/, 'the master kept its old error log');
    assert.deepEqual(load.failures, []);
    assert.deepEqual(accessLogAccounting([access, `${access}.1`], load.ok), { twice: [], missing: [], unknown: [] });
  });
});

describe('worker identity', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  for (const user of ['nobody', String(NOBODY)]) {
    it(`-u ${user}: the worker's HOME, USER and LOGNAME are nobody's`, async () => {
      const { proc, url } = await startServer(['-u', user], { app: ENV_APP });
      const env = await Promise.all(['HOME', 'USER', 'LOGNAME'].map(async (k) => (await request(`${url}/${k}`)).body));
      assert.deepEqual(env, ['/nonexistent', 'nobody', 'nobody']);
      proc.kill('SIGTERM');
      assert.equal((await proc.exit).code, 0);
    });
  }

  it('--initgroups gives the worker the supplementary groups of its user; without it there are none', async (t) => {
    const group = `tsgund-t${process.pid}`;
    execFileSync('groupadd', [group]);
    t.after(() => execFileSync('groupdel', [group]));
    execFileSync('gpasswd', ['-a', 'nobody', group], { stdio: 'ignore' });
    const gid = execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]!;
    const groupsOfWorker = async (extra: string[]) => {
      const { proc } = await startServer(['-u', 'nobody', ...extra]);
      const [worker] = workersOf(proc.pid);
      const groups = statusField(worker!, 'Groups').split(/\s+/).filter(Boolean);
      const ids = [statusField(worker!, 'Uid'), statusField(worker!, 'Gid')].map((l) => l.split(/\s+/)[0]);
      proc.kill('SIGTERM');
      assert.equal((await proc.exit).code, 0);
      return { groups, ids };
    };
    assert.deepEqual(await groupsOfWorker(['--initgroups']), {
      groups: [String(NOBODY), gid].sort(),
      ids: ['65534', '65534'],
    });
    assert.deepEqual(await groupsOfWorker([]), { groups: [], ids: ['65534', '65534'] });
  });

  it('an unknown user or group: one line naming it, exit 1', async () => {
    for (const [flag, value, message] of [
      ['-u', 'no-such-user-here', "setting 'user': no such user 'no-such-user-here'"],
      ['-g', 'no-such-group-here', "setting 'group': no such group 'no-such-group-here'"],
    ] as const) {
      const proc = run(['start', HELLO, flag, value]);
      assert.equal((await proc.exit).code, 1);
      assert.deepEqual(proc.lines, [`tsgund: ${message}`]);
    }
  });
});

/** Start `-u nobody` with both logs in `dir/sub`; resolves once the master has booted. */
async function start(dir: string, sub: string, extra: string[]) {
  const errors = join(dir, sub, 'error.log');
  const access = join(dir, sub, 'access.log');
  const port = await freePort();
  const proc = run([
    'start',
    HELLO,
    '-u',
    'nobody',
    '-b',
    `127.0.0.1:${port}`,
    '--error-logfile',
    errors,
    '--access-logfile',
    access,
    ...extra,
  ]);
  await waitFor(
    () => /Booted \d+ worker/.test(read(errors)) || proc.child.exitCode !== null,
    'the master to boot',
    15_000,
  );
  assert.equal(proc.child.exitCode, null, `the master exited:\n${proc.output}`);
  return { proc, url: `http://127.0.0.1:${port}`, errors, access };
}

/**
 * The end of a rotation test: the load stops, the same workers served
 * throughout, the master stops cleanly, no request failed, every answered
 * request is in exactly one of the access logs (the live one and its
 * `rotations` rotated copies), and no error log has an ERROR line.
 */
async function assertRotatedCleanly(
  run: {
    proc: Awaited<ReturnType<typeof start>>['proc'];
    load: NumberedRequests;
    workers: number[];
    access: string;
    errors: string;
  },
  rotations: number,
): Promise<void> {
  const { proc, load, workers, access, errors } = run;
  await load.stop();
  assert.deepEqual(workersOf(proc.pid), workers, 'the same workers serve throughout');
  proc.kill('SIGTERM');
  assert.equal((await proc.exit).code, 0);
  assert.deepEqual(load.failures, []);
  const withRotated = (file: string) => [file, ...Array.from({ length: rotations }, (_, k) => `${file}.${k + 1}`)];
  assert.deepEqual(accessLogAccounting(withRotated(access), load.ok), { twice: [], missing: [], unknown: [] });
  assert.doesNotMatch(withRotated(errors).map(read).join(''), /\[ERROR\]|\[CRITICAL\]/);
}

/** "reopening log files" lines of the master and the workers, in error.log and its rotated copies 1..n. */
function reopenLines(errors: string, n: number): string[] {
  return [errors, ...Array.from({ length: n }, (_, k) => `${errors}.${k + 1}`)]
    .map(read)
    .join('')
    .split('\n')
    .filter((l) => / \[INFO\] (Handling signal: USR1, )?reopening log files$/.test(l));
}
