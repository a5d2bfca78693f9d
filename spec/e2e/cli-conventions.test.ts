// PaaS and command-line conventions shared with gunicorn: PORT and
// WEB_CONCURRENCY, a bind without a port, `tsgund APP`, -v, help defaults.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli } from '../support/exec.js';
import { SETTINGS } from '../../lib/config/settings.js';
import { parseBind } from '../../lib/listeners/address.js';
import { HELLO } from '../support/harness.js';

const config = async (args: string[], env: Record<string, string> = {}) => {
  const r = await cli([...args, '--print-config'], { env: { ...process.env, PORT: '', WEB_CONCURRENCY: '', ...env } });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

describe('command-line conventions', () => {
  it('PORT means 0.0.0.0:$PORT when no bind is configured; a bind wins over it', async () => {
    assert.deepEqual((await config(['start', HELLO])).bind, ['127.0.0.1:8000']);
    assert.deepEqual((await config(['start', HELLO], { PORT: '5123' })).bind, ['0.0.0.0:5123']);
    assert.deepEqual((await config(['start', HELLO, '-b', '127.0.0.1:9'], { PORT: '5123' })).bind, ['127.0.0.1:9']);
  });

  it('`tsgund APP` is `tsgund start APP`; --log-level warn is warning', async () => {
    const c = await config([HELLO, '-w', '3', '--log-level', 'warn']);
    assert.equal(c.app, HELLO);
    assert.equal(c.workers, 3);
    assert.equal(c.loglevel, 'warning');
    assert.equal((await config(['-w', '2', HELLO])).workers, 2);
  });

  it('-b HOST without a port listens on port 8000', async () => {
    assert.deepEqual(parseBind('127.0.0.1'), { kind: 'tcp', host: '127.0.0.1', port: 8000 });
    assert.deepEqual(parseBind('[::1]'), { kind: 'tcp', host: '::1', port: 8000 });
    const r = await cli(['start', HELLO, '-b', 'localhost', '--check-config'], { env: { ...process.env, PORT: '' } });
    assert.equal(r.code, 0, r.stderr);
    const bad = await cli(['start', HELLO, '-b', 'host:port:x']);
    assert.match(bad.stderr, /HOST \(port 8000\)/);
  });

  it('a bad WEB_CONCURRENCY or PORT is a one-line error, exit 1', async () => {
    for (const [name, value] of [
      ['WEB_CONCURRENCY', 'abc'],
      ['WEB_CONCURRENCY', '0'],
      ['PORT', '80a'],
      ['PORT', '70000'],
    ] as const) {
      const r = await cli(['start', HELLO], { env: { ...process.env, PORT: '', WEB_CONCURRENCY: '', [name]: value } });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr,
        `tsgund: environment variable ${name} is "${value}", expected an integer from ${name === 'PORT' ? '0 to 65535' : '1 to 1024'}\n`,
      );
    }
  });

  it('-v prints the version; help shows every default and a placeholder', async () => {
    const v = await cli(['-v']);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const help = (await cli(['start', '--help'])).stdout.replace(/\s+/g, ' ');
    for (const text of [
      '-b, --bind <ADDRESS>',
      '-w, --workers <N>',
      '--graceful-timeout <SECONDS>',
      '--limit-request-line <BYTES> longest request line in bytes; longer gets 414 (0: no limit) (default: 4094)',
      '--worker-connections <N>',
      '(default: $WEB_CONCURRENCY or 1)',
      '-u, --user <USER>',
    ]) {
      assert.ok(help.includes(text), `help has ${text}`);
    }
    // every setting, plus --config
    assert.equal(help.split('(default: ').length - 1, SETTINGS.length + 1, 'every setting shows its default');
  });
});
