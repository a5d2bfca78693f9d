import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { defaults } from '../../lib/config/resolve.js';
import { GenerationBoot } from '../../lib/master/lifecycle/generation-boot.js';
import { BootFailure, type WorkerHandle } from '../../lib/master/pool/worker-handle.js';

const settings = { ...defaults(), workers: 2, bootTimeout: 5 };
const died = (readyAt = 0, bootError: BootFailure | null = null) => ({ readyAt, bootError }) as WorkerHandle;

/** The boot's outcome so far: 'ok', an exit code, or 'waiting'. */
async function outcome(boot: GenerationBoot): Promise<string | number> {
  return Promise.race([
    boot.done.then(
      () => 'ok',
      (e: BootFailure) => e.exitCode,
    ),
    new Promise<string>((r) => setImmediate(() => r('waiting'))),
  ]);
}

function boot(lenient: boolean, abort = new AbortController()) {
  const warnings: string[] = [];
  const b = new GenerationBoot(1, settings, null, lenient, abort.signal, (m) => warnings.push(m));
  return { b, warnings, abort };
}

describe('GenerationBoot (mocked timers, ms)', () => {
  it('succeeds once every worker is ready; a worker killed meanwhile is no failure', async () => {
    const { b } = boot(false);
    b.onReady();
    b.onExit(died());
    assert.equal(await outcome(b), 'waiting');
    b.onReady();
    assert.equal(await outcome(b), 'ok');
    assert.equal(b.active, false);
  });

  it("fails on the app's own boot error with its exit code", async () => {
    const { b } = boot(false);
    b.onExit(died(0, new BootFailure('cannot load', 4)));
    assert.equal(await outcome(b), 4);
  });

  it('at start, once a worker is ready, a boot error no longer fails it', async () => {
    const { b } = boot(true);
    b.onReady();
    b.onExit(died(0, new BootFailure('cannot load', 4)));
    assert.equal(await outcome(b), 'waiting');
  });

  it('boot-timeout: a reload fails; a start with a ready worker goes on with a warning; one with none fails (exit 3)', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const reload = boot(false);
      const start = boot(true);
      const dead = boot(true);
      reload.b.onReady();
      start.b.onReady();
      mock.timers.tick(4999);
      assert.equal(await outcome(reload.b), 'waiting');
      mock.timers.tick(1);
      assert.equal(await outcome(reload.b), 3);
      assert.equal(await outcome(start.b), 'ok');
      assert.match(start.warnings[0]!, /only 1 of 2 workers ready after 5 s/);
      assert.equal(await outcome(dead.b), 3);
    } finally {
      mock.timers.reset();
    }
  });

  it('a stop signal aborts it (exit 3)', async () => {
    const { b, abort } = boot(true);
    abort.abort('SIGTERM');
    assert.equal(await outcome(b), 3);
  });
});
