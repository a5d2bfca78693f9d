import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openLogFile, type OpenedLog } from '../../lib/log/safe-open.js';
import { UnsafePathError, checkSocketDirectory } from '../../lib/trust/pinned-path.js';
import { logScratch } from '../support/log-files.js';

const { dir } = logScratch('safe');
const NOBODY = 65534;
let seq = 0;

/** A fresh directory under the scratch dir (root-owned, 0755 unless changed). */
function subdir(): string {
  const d = path.join(dir, `d${++seq}`);
  fs.mkdirSync(d, { mode: 0o755 });
  return d;
}

const open = (target: string, create = true, owner?: { uid: number; gid: number }): OpenedLog =>
  openLogFile(target, 1, { create, owner });

function closeIfFile(opened: OpenedLog): void {
  if (opened.kind === 'file') fs.closeSync(opened.fd);
}

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (err) => err instanceof UnsafePathError && message.test(err.message));

describe('openLogFile', { skip: process.getuid?.() !== 0 && 'needs root (chown, nobody-owned dirs)' }, () => {
  it("names stdout and stderr without opening them: '-', /dev/stdout, /dev/stderr, /proc/self/fd/N", () => {
    assert.deepEqual(openLogFile('-', 2, { create: true }), { kind: 'stdio', fd: 2 });
    for (const [name, fd] of [
      ['/dev/stdout', 1],
      ['/dev/stderr', 2],
      ['/proc/self/fd/1', 1],
      ['/dev/fd/2', 2],
    ] as const) {
      assert.deepEqual(open(name), { kind: 'stdio', fd });
    }
  });

  it('follows a root-owned symlink to /dev/stdout as stdout', () => {
    const d = subdir();
    fs.symlinkSync('/dev/stdout', path.join(d, 'access.log'));
    assert.deepEqual(open(path.join(d, 'access.log')), { kind: 'stdio', fd: 1 });
  });

  it('creates a missing file with O_EXCL and gives only that one to the owner', () => {
    const d = subdir();
    const created = open(path.join(d, 'new.log'), true, { uid: NOBODY, gid: NOBODY });
    assert.equal(created.kind === 'file' && created.created, true);
    closeIfFile(created);
    assert.equal(fs.statSync(path.join(d, 'new.log')).uid, NOBODY);

    fs.writeFileSync(path.join(d, 'old.log'), '');
    const existing = open(path.join(d, 'old.log'), true, { uid: NOBODY, gid: NOBODY });
    closeIfFile(existing);
    assert.equal(fs.statSync(path.join(d, 'old.log')).uid, 0, 'an existing file keeps its owner');
  });

  it('does not create a file when asked not to (a worker reopening)', () => {
    refused(() => open(path.join(subdir(), 'missing.log'), false), /cannot open .*: ENOENT/);
  });

  it('follows a root-owned symlinked directory, but not one in a directory nobody owns', () => {
    const d = subdir();
    fs.mkdirSync(path.join(d, 'real'));
    fs.symlinkSync(path.join(d, 'real'), path.join(d, 'logs'));
    const opened = open(path.join(d, 'logs/app.log'));
    closeIfFile(opened);
    assert.ok(fs.existsSync(path.join(d, 'real/app.log')));

    const planted = subdir();
    fs.mkdirSync(path.join(planted, 'real'));
    fs.symlinkSync(path.join(planted, 'real'), path.join(planted, 'logs'));
    fs.chownSync(planted, NOBODY, NOBODY);
    refused(
      () => open(path.join(planted, 'logs/app.log')),
      new RegExp(`^refusing to follow symlink ${planted}/logs: ${planted} is owned by uid ${NOBODY}$`),
    );
  });

  it('refuses a directory on the way that another user could replace', () => {
    const d = subdir();
    fs.mkdirSync(path.join(d, 'inner'));
    fs.chmodSync(d, 0o777);
    refused(() => open(path.join(d, 'inner/app.log')), /^refusing directory .*\/inner: .* is writable by everyone$/);
  });

  it('opens a regular file in a directory nobody owns, but no symlink, FIFO or hard link there', () => {
    const d = subdir();
    fs.chownSync(d, NOBODY, NOBODY);
    closeIfFile(open(path.join(d, 'plain.log')));

    fs.symlinkSync('/etc/passwd', path.join(d, 'link.log'));
    refused(() => open(path.join(d, 'link.log')), /^refusing to follow symlink /);

    execFileSync('mkfifo', [path.join(d, 'fifo.log')]);
    const holder = fs.openSync(path.join(d, 'fifo.log'), fs.constants.O_RDWR);
    refused(() => open(path.join(d, 'fifo.log')), /not a regular file or a character device/);
    fs.closeSync(holder);

    const target = path.join(subdir(), 'precious');
    fs.writeFileSync(target, 'keep\n', { mode: 0o600 });
    fs.linkSync(target, path.join(d, 'hard.log'));
    refused(() => open(path.join(d, 'hard.log')), /has 2 hard links and its directory is owned by uid 65534/);
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep\n');
  });

  it('accepts a character device such as /dev/null', () => {
    const opened = open('/dev/null');
    assert.equal(opened.kind, 'file');
    closeIfFile(opened);
  });
});

describe('checkSocketDirectory', { skip: process.getuid?.() !== 0 && 'needs root (nobody-owned dirs)' }, () => {
  it('accepts a root-owned directory, and a sticky one (as /tmp); refuses one another user owns or everyone may write', () => {
    const mine = subdir();
    checkSocketDirectory(path.join(mine, 'app.sock'));
    const sticky = subdir();
    fs.chmodSync(sticky, 0o1777);
    checkSocketDirectory(path.join(sticky, 'app.sock'));
    const theirs = subdir();
    fs.chownSync(theirs, NOBODY, NOBODY);
    refused(
      () => checkSocketDirectory(path.join(theirs, 'app.sock')),
      new RegExp(`^refusing ${theirs}/app\\.sock: its directory ${theirs} is owned by uid ${NOBODY}$`),
    );
    const open = subdir();
    fs.chmodSync(open, 0o777);
    refused(() => checkSocketDirectory(path.join(open, 'app.sock')), /its directory .* is writable by everyone$/);
    // a directory on the way counts too
    refused(() => checkSocketDirectory(path.join(theirs, 'sub', 'app.sock')), /does not exist|refusing directory/);
    fs.mkdirSync(path.join(theirs, 'sub'));
    refused(
      () => checkSocketDirectory(path.join(theirs, 'sub', 'app.sock')),
      /^refusing directory .*: .* is owned by uid/,
    );
  });
});
