import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOOKS, HOOK_TABLE, WORKER_HOOKS } from '../../lib/config/hook-table.js';
import { type Phase, canEnter } from '../../lib/worker/phase.js';

describe("a worker's phase", () => {
  it('only moves forward: booting, serving, draining, exiting', () => {
    const moves: [Phase, Phase, boolean][] = [
      ['booting', 'serving', true],
      ['booting', 'draining', true],
      ['booting', 'exiting', true],
      ['serving', 'draining', true],
      ['draining', 'exiting', true],
      ['serving', 'booting', false],
      ['draining', 'serving', false],
      ['draining', 'draining', false],
      ['exiting', 'draining', false],
      ['exiting', 'exiting', false],
    ];
    for (const [from, to, allowed] of moves) assert.equal(canEnter(from, to), allowed, `${from} -> ${to}`);
  });
});

describe('the hook table', () => {
  it('lists every hook once, and the worker hooks are those that run in a worker', () => {
    assert.equal(new Set(HOOKS).size, HOOKS.length);
    assert.deepEqual([...WORKER_HOOKS].sort(), [
      'postRequest',
      'postWorkerInit',
      'preRequest',
      'workerAbort',
      'workerExit',
      'workerInt',
    ]);
    for (const name of HOOKS) assert.ok(['master', 'worker'].includes(HOOK_TABLE[name]), name);
  });
});
