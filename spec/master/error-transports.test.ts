import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import winston from 'winston';
import Transport from 'winston-transport';
import { defaults } from '../../lib/config/resolve.js';
import { createErrorLog } from '../../lib/log/error-log.js';
import { ErrorTransports } from '../../lib/master/logs/error-transports.js';
import { lines, logScratch } from '../support/log-files.js';

const { freshPath } = logScratch('transports');
const MESSAGE = Symbol.for('message');

/** Keeps what it is given: the finished line (MESSAGE) and the pid of each entry. */
class Capture extends Transport {
  readonly seen: { line: string; pid: number }[] = [];
  wasClosed = false;
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.seen.push({ line: info[MESSAGE] as string, pid: info.pid as number });
    next();
  }
  override close(): void {
    this.wasClosed = true;
  }
}

function setUp() {
  const errorlog = freshPath();
  const settings = { ...defaults(), errorlog };
  const log = createErrorLog(settings);
  return { errorlog, settings, log, transports: new ErrorTransports(log) };
}

describe('the error log transports of a config', () => {
  it("take the config's format, the master's lines and a worker's piped lines under the worker's pid", async () => {
    const capture = new Capture();
    const fileConfig = {
      errorLogTransports: () => [capture],
      errorLogFormat: winston.format.printf((info) => `${info.level}|${info.message}`),
    };
    const { errorlog, settings, log, transports } = setUp();
    await transports.configure(settings, fileConfig);
    assert.equal(transports.piped, true);
    log.info('from the master');
    const pipe = new PassThrough();
    transports.attach(4242, pipe);
    pipe.write(`${JSON.stringify({ level: 'error', msg: 'from a worker' })}\nnot json\n{"level":"info","msg":"cut`);
    pipe.end();
    await transports.drained();
    await log.close();
    assert.deepEqual(capture.seen, [
      { line: 'info|from the master', pid: process.pid },
      { line: 'error|from a worker', pid: 4242 },
      { line: 'error|not json', pid: 4242 },
      { line: 'error|{"level":"info","msg":"cut', pid: 4242 },
    ]);
    // the file gets the same lines, in tsgund's format
    assert.deepEqual(
      lines(errorlog).map((l) => l.replace(/^\[[^\]]+\] /, '')),
      [
        `[${process.pid}] [INFO] from the master`,
        '[4242] [ERROR] from a worker',
        '[4242] [ERROR] not json',
        '[4242] [ERROR] {"level":"info","msg":"cut',
      ],
    );
  });

  it('USR1 makes them afresh and closes the old ones; a failing factory keeps them', async () => {
    const made: Capture[] = [];
    let fail = false;
    const fileConfig = {
      errorLogTransports: () => {
        if (fail) throw new Error('disk gone');
        made.push(new Capture());
        return [made.at(-1)];
      },
    };
    const { settings, log, transports } = setUp();
    await transports.configure(settings, fileConfig);
    await transports.refresh();
    assert.equal(made.length, 2);
    assert.deepEqual(
      made.map((t) => t.wasClosed),
      [true, false],
    );
    fail = true;
    await transports.refresh();
    log.info('still here');
    await log.close();
    assert.deepEqual(
      made[1]!.seen.map((s) => s.line.replace(/^\[[^\]]+\] \[\d+\] /, '')),
      [
        "[ERROR] error log transports kept as they were: setting 'errorLogTransports': its function failed: disk gone",
        '[INFO] still here',
      ],
    );
  });

  it('without transports, workers write their file directly (no pipe)', async () => {
    const { settings, log, transports } = setUp();
    await transports.configure(settings, {});
    assert.equal(transports.piped, false);
    await log.close();
  });
});
