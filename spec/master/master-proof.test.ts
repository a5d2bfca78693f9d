import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { holdsFile, inspectPidfile, notAMaster, readPid, startTicks } from '../../lib/master/process/master-proof.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgund-proof-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** A pid that has just exited (and been reaped), so nothing runs under it. */
const deadPid = (): number => spawnSync('true').pid!;

describe('pidfile proof', () => {
  it('reads a pid only from a regular file, never through a symlink or from a FIFO', () => {
    assert.equal(readPid(file('ok', '1234\n')), 1234);
    for (const bad of ['', '0', '-5', '12abc', '1 2', '99999999999'])
      assert.equal(readPid(file('bad', bad)), null, JSON.stringify(bad));
    symlinkSync(file('target', '1234\n'), join(dir, 'link'));
    assert.equal(readPid(join(dir, 'link')), null);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    assert.equal(readPid(join(dir, 'fifo')), null, 'a FIFO neither hangs nor counts');
    assert.equal(readPid(join(dir, 'none')), null);
  });

  it('tells whether a process holds the very file open', () => {
    const path = file('held', `${process.pid}\n`);
    assert.equal(holdsFile(process.pid, path), false);
    const fd = openSync(path, 'r');
    assert.equal(holdsFile(process.pid, path), true);
    // same name, new file: the old descriptor does not count
    writeFileSync(join(dir, 'held.new'), `${process.pid}\n`);
    execFileSync('mv', [join(dir, 'held.new'), path]);
    assert.equal(holdsFile(process.pid, path), false);
    closeSync(fd);
  });

  it('classifies a pidfile: master, stale, dead, invalid, missing', async () => {
    const path = file('app.pid', `${process.pid}\n`);
    assert.deepEqual(await inspectPidfile(path), { kind: 'stale', pid: process.pid });
    const fd = openSync(path, 'r');
    assert.deepEqual(await inspectPidfile(path), {
      kind: 'master',
      pid: process.pid,
      started: startTicks(process.pid),
    });
    closeSync(fd);
    const dead = deadPid();
    assert.deepEqual(await inspectPidfile(file('dead.pid', `${dead}\n`)), { kind: 'dead', pid: dead });
    assert.deepEqual(await inspectPidfile(file('empty.pid', '')), { kind: 'invalid' });
    assert.deepEqual(await inspectPidfile(join(dir, 'none.pid')), { kind: 'missing' });
    assert.equal(
      notAMaster(path, { kind: 'stale', pid: 42 }),
      `pidfile ${path} is stale: pid 42 is not the tsgund master of it, so it gets no signal`,
    );
  });
});
