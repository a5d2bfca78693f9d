// `tsgund startup`: the boot files it writes run the app.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exec } from '../support/exec.js';
import { FIXTURES, HELLO, cleanup, freePort, request, run, tempDir, track } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe('tsgund startup', () => {
  it('initd: writes the script and its defaults (NODE and the user filled in); the script starts and stops the app', async () => {
    const root = tempDir();
    dirs.push(root);
    const port = await freePort();
    const written = run(['startup', 'initd', HELLO, '-n', 'boot', '-u', 'nobody', '--root', root]);
    assert.equal((await written.exit).code, 0, written.output);
    assert.match(written.output, /update-rc\.d tsgund-boot defaults/);
    const script = join(root, 'etc/init.d/tsgund-boot');
    const defaults = join(root, 'etc/default/tsgund-boot');
    assert.equal(statSync(script).mode & 0o777, 0o755);
    const text = readFileSync(defaults, 'utf8');
    assert.match(text, new RegExp(`^NODE=${process.execPath}$`, 'm'));
    assert.match(text, /-n boot -u nobody --error-logfile /);
    // the same defaults, bound to a free loopback port for the test
    const env = { ...process.env, TSGUND_DEFAULTS: defaults };
    await exec('sh', [
      '-c',
      `mkdir -p ${root}/var/log/tsgund && sed -i 's|^EXTRA_ARGS=.|&-b 127.0.0.1:${port} |' ${defaults}`,
    ]);
    const started = await exec('bash', [script, 'start'], { env, timeoutMs: 60_000 });
    const pid = Number(readFileSync(join(root, 'run/tsgund/boot.pid'), 'utf8'));
    track(pid);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
    assert.equal((await exec('bash', [script, 'reload'], { env, timeoutMs: 60_000 })).code, 0);
    assert.equal((await exec('bash', [script, 'stop'], { env, timeoutMs: 60_000 })).code, 0);
  });

  it('systemd: a unit whose ExecReload waits for the outcome; a bad kind is one line', async () => {
    const root = tempDir();
    dirs.push(root);
    const written = run(['startup', 'systemd', join(FIXTURES, 'env-app.js'), '-u', 'nobody', '--root', root]);
    assert.equal((await written.exit).code, 0, written.output);
    const unit = readFileSync(join(root, 'etc/systemd/system/tsgund-env-app.service'), 'utf8');
    assert.match(
      unit,
      new RegExp(
        `^ExecStart=${process.execPath} \\S+main\\.js start \\S+env-app\\.js -n env-app -u nobody -p /run/tsgund/env-app\\.pid`,
        'm',
      ),
    );
    assert.match(unit, /^ExecReload=\S+ \S+main\.js reload -p \/run\/tsgund\/env-app\.pid --timeout 55$/m);
    assert.match(written.output, /systemctl enable --now tsgund-env-app\.service/);
    const bad = run(['startup', 'upstart', HELLO]);
    assert.equal((await bad.exit).code, 1);
    assert.equal(bad.output.trim(), "tsgund: startup: kind is 'upstart', expected systemd or initd");
  });
});
