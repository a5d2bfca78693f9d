// A config's winston transports and --log-syslog get the master's and the
// workers' error-log lines, through HUP and USR1.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURES, cleanup, freePort, isRunning, request, run, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const TRANSPORT = join(FIXTURES, 'json-lines-transport.mjs');
const STDERR_APP = join(FIXTURES, 'stderr-app.js');
/** About 600 KB: more than a socketpair's kernel buffer, less than a worker’s backlog (PIPE_BACKLOG_BYTES). */
const BUSY_LINES = 5000;
const ERROR_LINE = /^\[[^\]]+\] \[(\d+)\] \[([A-Z]+)\] (.*)$/;

interface Logged {
  instance: string;
  closed: boolean;
  level: string;
  pid: number;
  message: string;
}

const readJsonLines = (path: string): Logged[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Logged)
    : [];

/** The error log file as [pid, level, message] per line. */
const readErrorLog = (path: string): string[][] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [, pid, level, message] = ERROR_LINE.exec(l) ?? [];
      return [pid!, level!.toLowerCase(), message!];
    });

function scratch(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

/** A config whose errorLogTransports function makes a JsonLinesTransport into `out`. */
function transportConfig(dir: string, out: string, extra = ''): string {
  const file = join(dir, 'tsgund.config.mjs');
  writeFileSync(
    file,
    [
      `import { JsonLinesTransport } from ${JSON.stringify(TRANSPORT)};`,
      'export default {',
      `  errorLogTransports: () => [new JsonLinesTransport(${JSON.stringify(out)})],`,
      extra,
      '};',
    ].join('\n'),
  );
  return file;
}

describe('error log transports from a config file', () => {
  it("get the master's and the workers' lines, each once, through HUP, USR1 and a worker's SIGKILL", async () => {
    const dir = scratch();
    const out = join(dir, 'transport.jsonl');
    const errors = join(dir, 'error.log');
    const config = transportConfig(dir, out);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = run(
      ['start', STDERR_APP, '-c', config, '-w', '2', '-b', `127.0.0.1:${port}`].concat([
        '--capture-output',
        '--error-logfile',
        errors,
      ]),
    );
    const logged = (re: RegExp, from = 0) =>
      waitFor(
        () =>
          readJsonLines(out)
            .slice(from)
            .find((l) => re.test(l.message)),
        `${re} in ${out}`,
        20_000,
      );
    await logged(/^Booted 2 worker/);

    // While the master is stopped, a worker logs more than a pipe holds and still answers at once;
    // a worker SIGKILLed then still gets its lines in: the master reads the pipes to their end.
    proc.kill('SIGSTOP');
    let victim = 0;
    try {
      const busy = await request(`${url}/busy?lines=${BUSY_LINES}`);
      const other = await waitFor(async () => {
        const reply = await request(`${url}/before-kill`);
        return Number(reply.body) !== Number(busy.body) ? Number(reply.body) : null;
      }, 'the other worker to answer');
      victim = other;
      process.kill(victim, 'SIGKILL');
    } finally {
      proc.kill('SIGCONT');
    }
    const said = await waitFor(
      () => readJsonLines(out).find((l) => l.pid === victim && / at \/before-kill /.test(l.message)),
      `a line of the SIGKILLed worker in ${out}`,
      20_000,
    );
    assert.equal(said.level, 'error');
    await waitFor(
      () => readJsonLines(out).filter((l) => / at \/busy /.test(l.message)).length === BUSY_LINES,
      () => `${BUSY_LINES} lines of /busy in ${out}`,
      20_000,
    );

    const firstInstance = said.instance;
    proc.kill('SIGHUP');
    await logged(/^Reloaded: generation 2/);
    const afterHup = await request(`${url}/after-hup`);
    const fresh = await logged(/at \/after-hup \(1\/1\)$/);
    assert.equal(fresh.pid, Number(afterHup.body));
    assert.notEqual(fresh.instance, firstInstance, 'HUP makes the transports afresh from the new config');

    const mark = readJsonLines(out).length;
    proc.kill('SIGUSR1');
    const reopened = await logged(/^reopening log files$/, mark);
    assert.notEqual(reopened.instance, fresh.instance, 'USR1 makes the transports afresh');

    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0, proc.output);
    const all = readJsonLines(out);
    assert.deepEqual(
      all.filter((l) => l.closed),
      [],
      'no line went to a transport after it was closed',
    );
    // the error log file got every line through the same logger: the transport got each exactly once
    assert.deepEqual(
      all.map((l) => [String(l.pid), l.level, l.message]),
      readErrorLog(errors),
    );
    assert.equal(all.filter((l) => /^Handling signal: HUP/.test(l.message)).length, 1);
    assert.equal(new Set(all.map((l) => l.instance)).size, 3);
  });

  it("get an app's load error", async () => {
    const dir = scratch();
    const out = join(dir, 'transport.jsonl');
    const config = transportConfig(dir, out);
    const port = await freePort();
    const proc = run(['start', join(FIXTURES, 'throws-on-load.js'), '-c', config, '-b', `127.0.0.1:${port}`]);
    assert.notEqual((await proc.exit).code, 0);
    const all = readJsonLines(out);
    assert.ok(
      all.some((l) => l.level === 'error' && /failed to boot: .*database unreachable/.test(l.message)),
      JSON.stringify(all, null, 1),
    );
  });

  it('a bad setting is one line naming it, and nothing starts', async () => {
    const dir = scratch();
    const json = join(dir, 'tsgund.config.json');
    writeFileSync(json, JSON.stringify({ errorLogTransports: [{ type: 'file' }] }));
    const cases: [string, RegExp][] = [
      [json, /setting 'errorLogTransports' is an array, expected a function .*JS or TS config file$/],
      [
        transportConfig(dir, join(dir, 'x'), 'errorLogFormat: "json",'),
        /setting 'errorLogFormat' is a string, expected a winston format/,
      ],
    ];
    const returnsJunk = join(dir, 'junk.config.mjs');
    writeFileSync(returnsJunk, 'export default { errorLogTransports: () => [{ level: "info" }] };\n');
    cases.push([returnsJunk, /setting 'errorLogTransports': its function returned an object at index 0, expected/]);
    for (const [file, problem] of cases) {
      const port = await freePort();
      const proc = run(['start', STDERR_APP, '-c', file, '-b', `127.0.0.1:${port}`]);
      assert.equal((await proc.exit).code, 1, proc.output);
      const errors = proc.lines.filter((l) => l.startsWith('tsgund: '));
      assert.equal(errors.length, 1, proc.output);
      assert.match(errors[0]!, problem);
      assert.doesNotMatch(proc.output, /^\s+at /m);
    }
  });
});

describe('--log-syslog', () => {
  it("sends the master's and the workers' lines to a UDP syslog (RFC 3164)", async () => {
    const received: string[] = [];
    const server = dgram.createSocket('udp4');
    server.on('message', (m) => received.push(m.toString()));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    const syslogPort = server.address().port;
    const port = await freePort();
    const proc = run([
      'start',
      STDERR_APP,
      '-w',
      '2',
      '-b',
      `127.0.0.1:${port}`,
      '--capture-output',
      '--log-syslog',
      '--log-syslog-to',
      `udp://127.0.0.1:${syslogPort}`,
      '--log-syslog-prefix',
      'myapp',
      '--log-syslog-facility',
      'local3',
    ]);
    try {
      const line = (re: RegExp) =>
        waitFor(
          () => received.find((m) => re.test(m)),
          () => `${re} in ${received}`,
          20_000,
        );
      const HEADER = String.raw`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ myapp\[${proc.pid}\]: `;
      const booted = await line(new RegExp(`${HEADER}\\[${proc.pid}\\] \\[INFO\\] Booted 2 worker`));
      assert.equal(Number(/^<(\d+)>/.exec(booted)![1]), 19 * 8 + 6, 'local3.info');
      const reply = await request(`http://127.0.0.1:${port}/hello`);
      const said = await line(
        new RegExp(`${HEADER}\\[${reply.body}\\] \\[ERROR\\] app says 1 from ${reply.body} at /hello \\(1/1\\)$`),
      );
      assert.equal(Number(/^<(\d+)>/.exec(said)![1]), 19 * 8 + 3, 'local3.err');
      proc.kill('SIGTERM');
      assert.equal((await proc.exit).code, 0);
      assert.equal(isRunning(proc.pid), false);
    } finally {
      server.close();
    }
  });
});
