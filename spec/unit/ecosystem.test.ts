import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromEcosystem } from '../../lib/cli/ecosystem.js';
import { droppedFrom } from '../../lib/cli/ecosystem-reload.js';
import type { ListedMaster } from '../../lib/control/format.js';
import type { StatusSnapshot } from '../../lib/protocol/status.js';

const FILE = '/srv/app/ecosystem.config.js';
const read = (app: Record<string, unknown>, envName: string | null = null) =>
  fromEcosystem({ apps: [{ script: 'app.js', ...app }] }, FILE, envName);

describe('PM2 ecosystem translation', () => {
  it("env's PORT and HOST become the default bind (all interfaces without HOST)", () => {
    assert.deepEqual(read({ env: { PORT: 3000 } }).defaults, { bind: ['0.0.0.0:3000'] });
    assert.deepEqual(read({ env: { PORT: '3000', HOST: '127.0.0.1' } }).defaults, { bind: ['127.0.0.1:3000'] });
    assert.deepEqual(read({ env: { PORT: 3000, HOST: '::1' } }).defaults, { bind: ['[::1]:3000'] });
  });

  it('a bad PORT or HOST is a one-line error naming the file and the field', () => {
    for (const port of ['80a', 70000, -1, '']) {
      assert.throws(() => read({ env: { PORT: port } }), {
        message: `ecosystem.config.js: env.PORT is ${JSON.stringify(port)}, expected an integer from 0 to 65535`,
      });
    }
    assert.throws(() => read({ env: { PORT: 1, HOST: ' ' } }), /env.HOST is " ", expected a host or an IP address/);
  });

  it('--env NAME puts env_NAME over env; env_* fields are no warning; wait_ready is waitReady', () => {
    const eco = read({ env: { A: '1', B: '1' }, env_production: { B: '2', PORT: 80 }, wait_ready: true }, 'production');
    assert.deepEqual(eco.values.rawEnv, ['A=1', 'B=2', 'PORT=80']);
    assert.deepEqual(eco.defaults, { bind: ['0.0.0.0:80'] });
    assert.equal(eco.values.waitReady, true);
    assert.deepEqual(eco.warnings, []);
    assert.throws(() => read({ env: {} }, 'staging'), /--env staging: the app has no env_staging \(it has none\)/);
  });

  it('an entry without a port binds nothing (a background app), unless tsgund itself has $PORT', () => {
    const saved = process.env.PORT;
    try {
      delete process.env.PORT;
      assert.deepEqual(read({}).defaults, { bind: [] });
      assert.deepEqual(read({ env: { HOST: '127.0.0.1' } }).defaults, { bind: [] }, 'HOST alone gives no port');
      process.env.PORT = '5000';
      assert.deepEqual(read({}).defaults, {}, "tsgund's own default bind, 0.0.0.0:$PORT");
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('reload FILE names the masters started from that file whose app it no longer lists, and no others', () => {
    const master = (name: string, ecosystem?: string): ListedMaster => ({
      name,
      status: { name, ...(ecosystem ? { ecosystem } : {}) } as StatusSnapshot,
    });
    const other = '/srv/other/ecosystem.config.js';
    const masters = [
      master('api', FILE),
      master('queue', FILE),
      master('queue.2', FILE),
      master('mailer', other),
      master('legacy'),
      master('ws', FILE),
    ];
    assert.deepEqual(droppedFrom(FILE, ['api', 'ws'], masters), ['queue', 'queue.2']);
    assert.deepEqual(droppedFrom(FILE, ['api', 'ws', 'queue'], masters), []);
    assert.deepEqual(droppedFrom(other, [], masters), ['mailer']);
  });
});
