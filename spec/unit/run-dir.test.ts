import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureRunDir, registeredName, runDirPath, runDirProblem } from '../../lib/control/run-dir.js';
import { Outcomes } from '../../lib/master/lifecycle/outcomes.js';
import { tempDir } from '../support/harness.js';

const dir = tempDir();
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the run directory', () => {
  it('is TSGUND_RUN_DIR, else /run/tsgund for root, $XDG_RUNTIME_DIR/tsgund, else /tmp/tsgund-UID', () => {
    assert.equal(runDirPath({ TSGUND_RUN_DIR: '/srv/run' }, 1000), '/srv/run');
    assert.equal(runDirPath({ XDG_RUNTIME_DIR: '/run/user/0' }, 0), '/run/tsgund');
    assert.equal(runDirPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/tsgund');
    assert.equal(runDirPath({}, 1000), '/tmp/tsgund-1000');
    assert.equal(runDirPath({ XDG_RUNTIME_DIR: 'relative' }, 1000), '/tmp/tsgund-1000');
    assert.throws(() => runDirPath({ TSGUND_RUN_DIR: 'run' }, 0), {
      message: /TSGUND_RUN_DIR is "run", expected an absolute path/,
    });
  });

  it('is created 0755 for root and refused when it is a link, owned by another user or writable by others', () => {
    const made = ensureRunDir({ TSGUND_RUN_DIR: join(dir, 'made') });
    assert.equal(runDirProblem(made), null);
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    assert.equal(runDirProblem(join(dir, 'link')), 'it is a symbolic link');
    assert.throws(() => ensureRunDir({ TSGUND_RUN_DIR: join(dir, 'link') }), /not safe to use: it is a symbolic link/);
    mkdirSync(join(dir, 'theirs'));
    chownSync(join(dir, 'theirs'), 65534, 65534);
    assert.match(runDirProblem(join(dir, 'theirs'))!, /belongs to uid 65534, not to uid 0/);
    mkdirSync(join(dir, 'open'));
    chmodSync(join(dir, 'open'), 0o777);
    assert.match(runDirProblem(join(dir, 'open'))!, /writable by others \(mode 0777\)/);
  });

  it('names a master by --name, else by its app file without the extension', () => {
    assert.equal(registeredName('api', 'server.js'), 'api');
    assert.equal(registeredName('tsgund', './srv/server.ts:app'), 'server');
    assert.equal(registeredName('tsgund', '@acme/worker'), 'worker');
    assert.equal(registeredName('tsgund', null), 'tsgund');
  });
});

describe('reload outcomes', () => {
  it('carry the count of signals received when they began, so a waiter ignores older ones', () => {
    const o = new Outcomes();
    o.requested('reload');
    const first = o.begin('reload');
    o.requested('reload'); // arrives while the first reload runs: a waiter read requested = 1
    o.record('reload', first, { result: 'failed', reason: 'bad config', detail: '' });
    assert.equal(o.status().reload.last!.seq, 1);
    const second = o.begin('reload');
    o.record('reload', second, { result: 'ok', reason: null, detail: 'generation 2' });
    assert.deepEqual(
      { ...o.status().reload.last!, at: '' },
      { seq: 2, result: 'ok', reason: null, detail: 'generation 2', at: '' },
    );
    assert.equal(o.status().upgrade.last, null);
  });
});
