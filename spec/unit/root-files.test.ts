// Who may have written a file that runs as root, and who a PM2 app runs as:
// the decisions, on real files in a temp directory (as root).
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fromEcosystem } from '../../lib/cli/ecosystem.js';
import { UntrustedFileError, assertRootOnly } from '../../lib/trust/file-trust.js';
import { ConfigError } from '../../lib/errors.js';

const NOBODY = 65534;

describe('assertRootOnly', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  const base = mkdtempSync(join(tmpdir(), 'tsgund-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  let n = 0;
  /** A file `mode`, owned by `uid`, in a fresh directory `dirMode` owned by `dirUid`. */
  const file = (mode = 0o644, uid = 0, dirMode = 0o755, dirUid = 0): string => {
    const dir = join(base, `d${++n}`);
    mkdirSync(dir);
    chmodSync(dir, dirMode);
    chownSync(dir, dirUid, 0);
    const f = join(dir, 'c.cjs');
    writeFileSync(f, '');
    chmodSync(f, mode);
    chownSync(f, uid, 0);
    return f;
  };
  const refuses = (f: string, why: RegExp) =>
    assert.throws(
      () => assertRootOnly(f, 'config file'),
      (e: unknown) => e instanceof UntrustedFileError && why.test(e.message) && !e.message.includes('\n'),
    );

  it('accepts a root-owned file, not writable by others, in root-owned directories', () => {
    assertRootOnly(file(), 'config file');
    assertRootOnly(file(0o600, 0, 0o700), 'config file');
  });

  it('names the owner or the mode of a file or directory that someone else could change', () => {
    const f = file(0o644, NOBODY);
    refuses(f, new RegExp(`^refusing config file ${f}: it is owned by uid 65534, not root; it would run as root`));
    refuses(file(0o664), /it has mode 0664: writable by its group/);
    refuses(file(0o646), /it has mode 0646: writable by everyone/);
    refuses(file(0o644, 0, 0o755, NOBODY), /its directory \S+ is owned by uid 65534/);
    refuses(file(0o644, 0, 0o775), /its directory \S+ is writable by its group \(mode 0775\)/);
    refuses(file(0o644, 0, 0o777), /its directory \S+ is writable by everyone/);
    refuses(join(base, 'missing.cjs'), /cannot check it: ENOENT/);
  });

  it('accepts a root file in a root-owned sticky directory, not a nobody file or a nobody symlink there', () => {
    assertRootOnly(file(0o644, 0, 0o1777), 'config file');
    refuses(file(0o644, NOBODY, 0o1777), /owned by uid 65534/);
    const f = file();
    const sticky = join(base, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    symlinkSync(f, join(sticky, 'link.cjs'));
    assertRootOnly(join(sticky, 'link.cjs'), 'config file');
    symlinkSync(f, join(sticky, 'planted.cjs'));
    lchownSync(join(sticky, 'planted.cjs'), NOBODY, NOBODY);
    refuses(join(sticky, 'planted.cjs'), /refusing to follow symlink/);
  });
});

describe('PM2 uid and gid', () => {
  const app = (extra: Record<string, unknown>) => fromEcosystem({ apps: [{ script: 'a.js', ...extra }] }, '/x/eco.js');

  it('map to user and group, by name or id, with no warning', () => {
    const eco = app({ uid: 'www-data', gid: 33 });
    assert.deepEqual([eco.values.user, eco.values.group, eco.warnings], ['www-data', '33', []]);
    assert.equal(app({ user: 65534 }).values.user, '65534');
    assert.equal(app({ uid: 'app', user: 'app' }).values.user, 'app');
  });

  it('fail on a value they cannot honour, never drop it', () => {
    for (const [extra, message] of [
      [{ uid: -1 }, /^eco\.js: uid is -1, expected a user or group name or id$/],
      [{ gid: '' }, /^eco\.js: gid is "", expected/],
      [{ uid: { name: 'x' } }, /uid is \{"name":"x"\}/],
      [{ uid: 'a', user: 'b' }, /^eco\.js: uid and user name different users, give one$/],
    ] as const) {
      assert.throws(
        () => app(extra),
        (e: unknown) => e instanceof ConfigError && message.test(e.message),
      );
    }
  });
});
