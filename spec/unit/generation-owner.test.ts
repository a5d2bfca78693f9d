// A generation's state (target, cap, boot) is written by its owner alone, the
// lifecycle (lib/master/lifecycle/lifecycle.ts), through the state object it
// made the generation with. Everything else only reads: each write below is a
// compile error (`@ts-expect-error` fails the build if it ever compiles), and
// at run time a getter without a setter throws in strict mode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HookRunner } from '../../lib/config/hooks.js';
import { defaults } from '../../lib/config/resolve.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import { Generation, type GenerationState } from '../../lib/master/lifecycle/generation.js';

const log = Object.fromEntries(
  ['debug', 'info', 'warning', 'error', 'critical'].map((level) => [level, () => {}]),
) as unknown as ErrorLog;

function generation(state?: GenerationState): Generation {
  const settings = { ...defaults(), workers: 3 };
  return new Generation(
    1,
    { settings, configPath: null, fileConfig: {} },
    HookRunner.from({}, settings, log),
    [],
    state,
  );
}

describe("a generation's state", () => {
  it('cannot be written from outside its owner', () => {
    const gen = generation();
    assert.throws(() => {
      // @ts-expect-error target is read-only outside the lifecycle owner
      gen.target = 5;
    }, TypeError);
    assert.throws(() => {
      // @ts-expect-error cap is read-only outside the lifecycle owner
      gen.cap = 1;
    }, TypeError);
    assert.throws(() => {
      // @ts-expect-error boot is read-only outside the lifecycle owner
      gen.boot = null;
    }, TypeError);
    assert.throws(() => {
      // @ts-expect-error appTls is read-only outside the lifecycle owner
      gen.appTls = true;
    }, TypeError);
    // @ts-expect-error the state object is private: the owner keeps its own reference
    assert.ok(gen.state);
    // @ts-expect-error a generation has no worker set to add to: the pool owns its workers
    assert.equal(gen.workers, undefined);
    assert.equal(gen.target, 3);
  });

  it('reads what its owner writes', () => {
    const state: GenerationState = { target: 3, cap: null, boot: null, appTls: false };
    const gen = generation(state);
    state.target = 4;
    state.cap = 2;
    assert.equal(gen.target, 4);
    assert.equal(gen.wanted, 2);
  });
});
