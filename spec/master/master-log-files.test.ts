import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ErrorLog } from '../../lib/log/error-line.js';
import { canHandOver, takeHandedLogs } from '../../lib/log/fd-handover.js';
import { MasterLogFiles } from '../../lib/master/logs/master-log-files.js';
import { WORKER_HANDOVER_FD } from '../../lib/protocol/descriptors.js';
import { cleanup, tempDir } from '../support/harness.js';
import { socketPair } from '../support/socket-pair.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const fdOf = (socket: net.Socket): number => (socket as unknown as { _handle: { fd: number } })._handle.fd;
const warnings: string[] = [];
const log = { warning: (msg: string) => warnings.push(msg) } as unknown as ErrorLog;

const inode = (fdOrPath: number | string): number =>
  typeof fdOrPath === 'number' ? fs.fstatSync(fdOrPath).ino : fs.statSync(fdOrPath).ino;

describe('the master hands its reopened log files to each worker', {
  skip: !canHandOver() && 'no native addon',
}, () => {
  it('forks with the handover socket at fd 6 and hands each worker the fresh files it writes to', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const settings = { errorlog: join(dir, 'error.log'), accesslog: join(dir, 'access.log') };
    const files = new MasterLogFiles(settings, undefined);
    assert.equal(files.stdioFor(settings)[WORKER_HANDOVER_FD], 'pipe');
    assert.equal(files.workerFds(settings).handover, WORKER_HANDOVER_FD);
    const plain = await socketPair(dir);
    const piped = await socketPair(dir);
    files.attach(plain.master, settings);
    files.attach(piped.master, settings, true); // its error log goes through the master's pipe: only the access log
    for (const name of ['error.log', 'access.log']) fs.renameSync(join(dir, name), join(dir, `${name}.1`));
    files.reopen(log);
    files.handOver(log);

    const a = takeHandedLogs(fdOf(plain.worker));
    assert.equal(inode(a!.errorlog!), inode(settings.errorlog));
    assert.equal(inode(a!.accesslog!), inode(settings.accesslog));
    const b = takeHandedLogs(fdOf(piped.worker));
    assert.deepEqual(Object.keys(b!), ['accesslog']);
    assert.equal(inode(b!.accesslog!), inode(settings.accesslog));
    for (const fd of [...Object.values(a!), ...Object.values(b!)]) fs.closeSync(fd);

    // a worker gone: its socket is forgotten, the others still get theirs
    plain.master.destroy();
    await new Promise((resolve) => plain.master.once('close', resolve));
    files.handOver(log);
    assert.equal(takeHandedLogs(fdOf(plain.worker)), null);
    const again = takeHandedLogs(fdOf(piped.worker));
    assert.ok(again?.accesslog !== undefined);
    fs.closeSync(again.accesslog);
    assert.deepEqual(warnings, []);
    for (const s of [plain.worker, piped.master, piped.worker]) s.destroy();
    await files.close();
  });

  it('hands over nothing for a log on stdout', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const settings = { errorlog: join(dir, 'error.log'), accesslog: '-' };
    const files = new MasterLogFiles(settings, undefined);
    const pair = await socketPair(dir);
    files.attach(pair.master, settings);
    files.reopen(log);
    files.handOver(log);
    const got = takeHandedLogs(fdOf(pair.worker));
    assert.deepEqual(Object.keys(got!), ['errorlog']);
    fs.closeSync(got!.errorlog!);
    for (const s of [pair.master, pair.worker]) s.destroy();
    await files.close();
  });
});
