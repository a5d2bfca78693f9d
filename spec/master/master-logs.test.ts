// MasterLogs as the arbiter and the lifecycle use it, over real files in a
// temporary directory, a fake worker (a PassThrough as its error-log pipe, a
// socket pair as its handover socket) and a transport that keeps its lines.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import Transport from 'winston-transport';
import { defaults } from '../../lib/config/resolve.js';
import { canHandOver, takeHandedLogs } from '../../lib/log/fd-handover.js';
import { MasterLogs } from '../../lib/master/logs/master-logs.js';
import { WORKER_HANDOVER_FD, WORKER_LOG_FDS } from '../../lib/protocol/descriptors.js';
import { cleanup, tempDir, waitFor } from '../support/harness.js';
import { lines } from '../support/log-files.js';
import { socketPair } from '../support/socket-pair.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const MESSAGE = Symbol.for('message');
const fdOf = (socket: net.Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd;
const inode = (fdOrPath: number | string): number =>
  typeof fdOrPath === 'number' ? fs.fstatSync(fdOrPath).ino : fs.statSync(fdOrPath).ino;
/** A line of tsgund's text format without its time and pid. */
const bare = (line: string): string => line.replace(/^\[[^\]]+\] \[\d+\] /, '');

/** Keeps the finished line of each entry; remembers being closed. */
class Capture extends Transport {
  readonly seen: string[] = [];
  wasClosed = false;
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.seen.push(bare(info[MESSAGE] as string));
    next();
  }
  override close(): void {
    this.wasClosed = true;
  }
}

/** Settings with both logs in a fresh temporary directory, and a config whose transports are counted. */
function setUp() {
  const dir = tempDir();
  dirs.push(dir);
  const settings = { ...defaults(), errorlog: join(dir, 'error.log'), accesslog: join(dir, 'access.log') };
  const made: Capture[] = [];
  let fail = false;
  const fileConfig = {
    errorLogTransports: () => {
      if (fail) throw new Error('disk gone');
      made.push(new Capture());
      return [made.at(-1)];
    },
  };
  return { dir, settings, made, fileConfig, failFromNow: () => (fail = true) };
}

describe('MasterLogs', () => {
  it('USR1: reopens the files, hands a worker the fresh ones it writes, makes the transports afresh', async () => {
    const { dir, settings, made, fileConfig } = setUp();
    const logs = new MasterLogs(settings);
    await logs.open(settings, fileConfig);
    // with transports, a worker's error log is a pipe the master reads
    assert.equal(logs.stdioFor(settings)[WORKER_LOG_FDS.errorlog], 'pipe');
    assert.equal(logs.workerFds(settings).errorlogPipe, true);
    const pipe = new PassThrough();
    const handover = canHandOver() ? await socketPair(dir) : null;
    const stdio: unknown[] = [];
    stdio[WORKER_LOG_FDS.errorlog] = pipe;
    stdio[WORKER_HANDOVER_FD] = handover?.master;
    logs.attach(4242, stdio, settings);
    for (const name of ['error.log', 'access.log']) fs.renameSync(join(dir, name), join(dir, `${name}.1`));

    logs.reopen();
    assert.ok(fs.existsSync(settings.errorlog) && fs.existsSync(settings.accesslog), 'both files created afresh');
    if (handover) {
      // at once (libuv may read the test's socket later); its error log goes through the pipe: only the access log
      const handed = takeHandedLogs(fdOf(handover.worker));
      assert.deepEqual(Object.keys(handed ?? {}), ['accesslog']);
      assert.equal(inode(handed!.accesslog!), inode(settings.accesslog));
      fs.closeSync(handed!.accesslog!);
      handover.master.destroy();
      handover.worker.destroy();
    }
    await waitFor(() => made.length === 2, 'new transports from the same factory');
    await waitFor(() => made[0]!.wasClosed, 'the old transports closed');
    pipe.end(`${JSON.stringify({ level: 'error', msg: 'from a worker' })}\n`);
    await logs.close();
    assert.deepEqual(made[1]!.seen, ['[ERROR] from a worker']);
    assert.deepEqual(lines(settings.errorlog).map(bare), ['[ERROR] from a worker']);
  });

  it('HUP: adopts a new path, keeps the transports when the new ones fail, closes what the old config alone used', async () => {
    const { dir, settings, made, fileConfig, failFromNow } = setUp();
    const logs = new MasterLogs(settings);
    await logs.open(settings, fileConfig);
    const next = { ...settings, accesslog: join(dir, 'access-next.log') };
    logs.adopt(next);
    assert.ok(fs.existsSync(next.accesslog), 'the new path is opened when the candidate loads');
    failFromNow();
    fs.renameSync(settings.errorlog, `${settings.errorlog}.1`);
    await logs.apply(next, fileConfig);
    assert.ok(fs.existsSync(settings.errorlog), 'the files are reopened');
    logs.keepOnly(next);
    assert.equal(logs.workerFds(next).accesslog, WORKER_LOG_FDS.accesslog);
    // the old access log is closed: a worker of the old configuration no longer gets a descriptor for it
    assert.equal(logs.stdioFor(settings)[WORKER_LOG_FDS.accesslog], 'ignore');
    logs.log.info('after the reload');
    await logs.close();
    assert.equal(made.length, 1);
    assert.deepEqual(made[0]!.seen, [
      "[ERROR] error log transports kept as they were: setting 'errorLogTransports': its function failed: disk gone",
      '[INFO] after the reload',
    ]);
  });
});
