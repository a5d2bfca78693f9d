import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HELLO, childrenOf, cleanup, freePort, run, tempDir, waitFor, ROOT } from '../support/harness.js';
import { exec, which } from '../support/exec.js';
import { NumberedRequests, accessLogAccounting, linesOf, read } from '../support/numbered-requests.js';

const LOGROTATE = which('logrotate');
const dirs: string[] = [];
after(() => cleanup(dirs));

const ERROR_LINE =
  /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\] \[(\d+)\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] /;

describe('logrotate', { skip: LOGROTATE ? false : 'logrotate is not installed' }, () => {
  it('the shipped config/logrotate.d/tsgund parses', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const done = await exec(LOGROTATE!, ['-d', '-s', join(dir, 'state'), join(ROOT, 'config/logrotate.d/tsgund')]);
    assert.equal(done.code, 0, done.stderr);
    assert.doesNotMatch(done.stderr, /error/i);
  });

  it('rename + create + USR1 under load: every request logged exactly once, no torn lines', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const access = join(dir, 'access.log');
    const errors = join(dir, 'error.log');
    const pidfile = join(dir, 'app.pid');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = run([
      'start',
      HELLO,
      '-w',
      '2',
      '-b',
      `127.0.0.1:${port}`,
      '-p',
      pidfile,
      '--access-logfile',
      access,
      '--error-logfile',
      errors,
    ]);
    await waitFor(() => /Booted 2 worker/.test(read(errors)), 'the master to boot', 15_000);
    const workers = childrenOf(proc.pid);

    const config = join(dir, 'logrotate.conf');
    writeFileSync(
      config,
      `${access} ${errors} {
    rotate 5
    missingok
    notifempty
    create 0640
    sharedscripts
    postrotate
        kill -USR1 "$(cat ${pidfile})"
    endscript
}
`,
    );
    const load = new NumberedRequests(url);
    await load.flowing(300);
    const rotations = 3;
    for (let i = 1; i <= rotations; i++) {
      const done = await exec(LOGROTATE!, ['-s', join(dir, 'state'), '-f', config]);
      assert.equal(done.code, 0, `logrotate: ${done.stdout}${done.stderr}`);
      // each worker says so before it reopens, so its line may land in either file
      await waitFor(
        () =>
          [errors, ...[1, 2, 3].map((k) => `${errors}.${k}`)]
            .map(read)
            .join('')
            .split('\n')
            .filter((l) => / \[INFO\] reopening log files$/.test(l)).length ===
          2 * i,
        `both workers to reopen (rotation ${i})`,
      );
      await load.flowing(300);
      assert.ok(linesOf(access).length > 0, `the new access.log is written to after rotation ${i}`);
    }
    await load.stop();
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });

    const files = [access, ...Array.from({ length: rotations }, (_, k) => `${access}.${k + 1}`)];
    console.log(`# ${load.ok.size} requests over ${rotations} rotations, ${load.failures.length} failed`);
    assert.deepEqual(load.failures, []);
    assert.deepEqual(accessLogAccounting(files, load.ok), { twice: [], missing: [], unknown: [] });

    const errorLines = [errors, ...[1, 2, 3].map((k) => `${errors}.${k}`)].flatMap(linesOf);
    for (const line of errorLines) assert.match(line, ERROR_LINE);
    const masterReopens = errorLines.filter((l) =>
      l.includes(`[${proc.pid}] [INFO] Handling signal: USR1, reopening log files`),
    );
    assert.equal(masterReopens.length, rotations);
    for (const w of workers) {
      assert.equal(
        errorLines.filter((l) => l.includes(`[${w}] [INFO] reopening log files`)).length,
        rotations,
        `worker ${w} reopened`,
      );
    }
    assert.match(read(errors), /Shutting down: tsgund master/, 'the master writes into the newest error.log');
  });
});
