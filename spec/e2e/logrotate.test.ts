import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HELLO, childrenOf, cleanup, freePort, run, tempDir, waitFor, ROOT } from '../support/harness.js';
import { exec, which } from '../support/exec.js';

const LOGROTATE = which('logrotate');
const dirs: string[] = [];
after(() => cleanup(dirs));

const ACCESS_LINE =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/\?n=(\d+) HTTP\/1\.1" 200 \d+ "-" "-"$/;
const ERROR_LINE =
  /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\] \[(\d+)\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] /;

const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/** Lines of a log file; a file must end with a complete line. */
function linesOf(file: string): string[] {
  const text = read(file);
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends mid-line`);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/** Request `/?n=<i>` with a fresh i each time from several loops until stopped; remembers each i answered 200. */
class NumberedRequests {
  readonly ok = new Set<number>();
  readonly failures: string[] = [];
  private next = 0;
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(url: string) {
    // half reuse keep-alive connections, half open one per request
    this.loops = Array.from({ length: 8 }, (_, i) => this.loop(url, i % 2 ? { agent: this.agent } : { agent: false }));
  }

  private async loop(url: string, opts: http.RequestOptions): Promise<void> {
    while (this.running) {
      const n = this.next++;
      await new Promise<void>((done) => {
        const req = http.get(`${url}/?n=${n}`, opts, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) this.ok.add(n);
            else this.failures.push(`${n}: status ${res.statusCode}`);
            done();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          this.failures.push(`${n}: ${e.code ?? e.message}`);
          setTimeout(done, 10);
        });
      });
    }
  }

  async flowing(more: number): Promise<void> {
    const target = this.ok.size + more;
    await waitFor(() => this.ok.size >= target, `${more} more requests`);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}

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
    const seen = new Map<number, number>();
    for (const file of files) {
      const lines = linesOf(file);
      assert.ok(lines.length > 0, `${file} has lines`);
      for (const line of lines) {
        const m = ACCESS_LINE.exec(line);
        assert.ok(m, `torn or malformed line in ${file}: ${JSON.stringify(line)}`);
        seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
      }
    }
    console.log(`# ${load.ok.size} requests over ${rotations} rotations, ${load.failures.length} failed`);
    assert.deepEqual(load.failures, []);
    const twice = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
    const missing = [...load.ok].filter((n) => !seen.has(n));
    const unknown = [...seen.keys()].filter((n) => !load.ok.has(n));
    assert.deepEqual({ twice, missing, unknown }, { twice: [], missing: [], unknown: [] });

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
