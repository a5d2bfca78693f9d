import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import winston from 'winston';
import Transport from 'winston-transport';
import { defaults } from '../../lib/config/resolve.js';
import { createErrorLog } from '../../lib/log/error-log.js';
import { ErrorTransports } from '../../lib/master/logs/error-transports.js';
import { CHANNEL_PAUSES } from '../../lib/master/intake/channel-gate.js';
import { waitFor } from '../support/harness.js';
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

  it("stop reading a worker's pipe while the transports are behind, and past its budget", async () => {
    /** Takes one entry every few milliseconds: winston's logger buffers behind it. */
    class Slow extends Transport {
      taken = 0;
      delayMs = 2;
      override log(_info: unknown, next: () => void): void {
        this.taken++;
        if (this.delayMs) setTimeout(next, this.delayMs);
        else setImmediate(next);
      }
    }
    const slow = new Slow();
    const { settings, log, transports } = setUp();
    await transports.configure(settings, { errorLogTransports: () => [slow] });
    const pipe = new PassThrough();
    const pauses = CHANNEL_PAUSES.errorPipe;
    transports.attach(4242, pipe);
    const line = `${JSON.stringify({ level: 'error', msg: 'x'.repeat(1000) })}\n`;
    for (let i = 0; i < 200; i++) pipe.write(line);
    await waitFor(() => pipe.isPaused(), 'the pipe to be paused');
    assert.ok(CHANNEL_PAUSES.errorPipe > pauses, 'a pause is counted');
    // the master holds no more than the stream's buffer and the logger's: not the 200 lines
    const waiting = pipe.readableLength + pipe.writableLength;
    assert.ok(waiting > 100_000, `${waiting} bytes wait in the pipe`);
    await waitFor(() => slow.taken === 200, 'every line, once the transport caught up');
    // the budget: 2 MiB a second, a burst of one second's worth: 3 MiB take at least half a second
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the burst refills
    slow.delayMs = 0;
    const start = performance.now();
    for (let i = 0; i < 3000; i++) pipe.write(line);
    await waitFor(() => slow.taken === 3200, 'every line');
    const took = performance.now() - start;
    assert.ok(took > 400, `3 MiB read in ${took.toFixed(0)} ms`);
    pipe.end();
    await log.close();
  });
});
