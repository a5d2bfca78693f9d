// Validation, bind parsing, TSGUND_CMD_ARGS splitting and health: pure decisions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvArgs, splitArgs } from '../../lib/cli/args.js';
import { MAX_SECONDS, MAX_WORKERS } from '../../lib/config/settings.js';
import { defaults } from '../../lib/config/resolve.js';
import { validateLayer, validateMerged } from '../../lib/config/validate.js';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { ConfigError } from '../../lib/errors.js';
import { parseBind } from '../../lib/listeners/address.js';
import { healthy, ready } from '../../lib/stats/health.js';

const rejects = (raw: Record<string, unknown>, message: RegExp) =>
  assert.throws(
    () => validateLayer(raw, 'cfg', false),
    (e: unknown) => e instanceof ConfigError && message.test(e.message),
  );

describe('validation', () => {
  it('accepts values up to the documented maximums', () => {
    assert.deepEqual(validateLayer({ workers: MAX_WORKERS, gracefulTimeout: MAX_SECONDS }, 'cfg', false), {
      workers: 1024,
      gracefulTimeout: 2_147_483,
    });
  });

  it('rejects what would overflow a timer or fork without end, naming setting, value and range', () => {
    rejects(
      { gracefulTimeout: 2_200_000 },
      /^cfg: setting 'gracefulTimeout' is 2200000, expected a number from 0 to 2147483$/,
    );
    rejects({ bootTimeout: MAX_SECONDS + 1 }, /expected a number from 0.1 to 2147483/);
    rejects({ workers: 1025 }, /^cfg: setting 'workers' is 1025, expected an integer from 1 to 1024$/);
    rejects({ workers: 1.5 }, /an integer/);
  });

  it('bounds backlog: 2^32 would wrap to 0 in listen(2)', () => {
    assert.deepEqual(validateLayer({ backlog: 65535 }, 'cfg', false), { backlog: 65535 });
    rejects({ backlog: 4294967296 }, /^cfg: setting 'backlog' is 4294967296, expected an integer from 1 to 65535$/);
    assert.throws(
      () => validateLayer({ backlog: 65536 }, 'command line', true),
      /command line: --backlog is 65536, expected an integer from 1 to 65535$/,
    );
  });

  it('names unknown keys with a suggestion, and shows a circular value on one line', () => {
    rejects({ wrokers: 2 }, /unknown setting 'wrokers' \(did you mean 'workers'\?\)/);
    const c: Record<string, unknown> = {};
    c.self = c;
    rejects({ bind: c }, /setting 'bind' is <ref \*1> \{ self: \[Circular \*1\] \}, expected/);
  });

  it('normalizes friendlier shapes', () => {
    assert.deepEqual(validateLayer({ bind: '127.0.0.1:1', umask: '027', forwardedAllowIps: 'a, b' }, 'cfg', false), {
      bind: ['127.0.0.1:1'],
      umask: 0o27,
      forwardedAllowIps: ['a', 'b'],
    });
  });
});

describe('nothing bound (a background app)', () => {
  it('is valid, but not with sticky placement, which has no connections to place', () => {
    validateMerged({ ...defaults(), app: 'worker.js', bind: [] });
    assert.throws(() => validateMerged({ ...defaults(), app: 'worker.js', bind: [], sticky: 'ip' }), {
      message:
        'setting \'sticky\' is "ip", but nothing is bound (bind is empty): a background app has no connections to place; turn sticky off or give a bind',
    });
  });
});

describe('bind parsing', () => {
  it('parses every documented form', () => {
    assert.deepEqual(parseBind('127.0.0.1:8000'), { kind: 'tcp', host: '127.0.0.1', port: 8000 });
    assert.deepEqual(parseBind(':80'), { kind: 'tcp', host: '0.0.0.0', port: 80 });
    assert.deepEqual(parseBind('[::1]:9'), { kind: 'tcp', host: '::1', port: 9 });
    assert.deepEqual(parseBind('unix:/run/a.sock'), { kind: 'unix', path: '/run/a.sock' });
    assert.deepEqual(parseBind('fd://3'), { kind: 'fd', fd: 3 });
    assert.deepEqual(parseBind('localhost'), { kind: 'tcp', host: 'localhost', port: 8000 });
  });

  it('rejects bad ones with the setting, the value and what is allowed', () => {
    for (const [value, why] of [
      ['host:99999', 'has a port above 65535'],
      ['[nope]:1', 'is not a valid address'],
      ['[1::2::3]:1', 'has an invalid IPv6 address'],
      ['unix:', 'has no socket path'],
      ['fd://x', 'is not a file descriptor number'],
      ['a:b:c', 'is not a valid address'],
    ]) {
      assert.throws(
        () => parseBind(value!, 'stats-bind'),
        (e: unknown) =>
          e instanceof ConfigError && e.message.startsWith(`setting 'stats-bind': '${value}' ${why}; expected`),
        value,
      );
    }
  });
});

describe('TSGUND_CMD_ARGS', () => {
  it('splits like a shell for simple quoting', () => {
    assert.deepEqual(splitArgs(`-w 4  --timeout 60 -e 'A=x y' -n "my \\"app\\""`), [
      '-w',
      '4',
      '--timeout',
      '60',
      '-e',
      'A=x y',
      '-n',
      'my "app"',
    ]);
  });

  it('parses to validated settings; empty is none; a bad flag names the variable', () => {
    assert.equal(parseEnvArgs('  '), null);
    assert.deepEqual(parseEnvArgs('app.js -w 3 --graceful-timeout 5'), {
      configPath: null,
      app: 'app.js',
      values: { workers: 3, gracefulTimeout: 5 },
    });
    assert.throws(() => parseEnvArgs('--nope'), /TSGUND_CMD_ARGS: unknown option '--nope'/);
    assert.throws(
      () => parseEnvArgs('-w 5000'),
      /TSGUND_CMD_ARGS: --workers is 5000, expected an integer from 1 to 1024/,
    );
  });
});

describe('health', () => {
  const snap = (state: StatusSnapshot['state'], workers: [number, 'booting' | 'ready'][]): StatusSnapshot => ({
    name: 'tsgund',
    pid: 1,
    app: 'a.js',
    generation: 2,
    targetWorkers: 2,
    state,
    uptimeMs: 0,
    rss: 0,
    restarts: 0,
    listeners: [],
    logs: { errorlog: '-', accesslog: null },
    workers: workers.map(([generation, s], id) => ({
      pid: id,
      id,
      generation,
      state: s,
      uptimeMs: 0,
      requests: 0,
      accepted: 0,
      slot: 0,
      bootMs: null,
      rss: 0,
    })),
  });

  it('healthy while any worker is ready', () => {
    assert.equal(healthy(snap('running', [[1, 'ready']])).ok, true);
    assert.deepEqual(healthy(snap('starting', [[2, 'booting']])), { ok: false, why: 'no worker is ready' });
  });

  it('ready only with a ready worker of the serving generation, not stopping or paused', () => {
    assert.equal(ready(snap('reloading', [[2, 'ready']])).ok, true);
    assert.equal(ready(snap('running', [[1, 'ready']])).ok, false);
    assert.equal(ready(snap('stopping', [[2, 'ready']])).why, 'shutting down');
    assert.equal(ready(snap('paused', [[2, 'ready']])).ok, false);
  });

  it('not ready while the master cannot place connections', () => {
    const blocked = { ...snap('running', [[2, 'ready']]), placementBlocked: '3 connection(s) wait for a worker' };
    assert.deepEqual(ready(blocked), { ok: false, why: 'cannot place connections: 3 connection(s) wait for a worker' });
  });
});
