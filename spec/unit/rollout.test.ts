import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSurge, surgeOf } from '../../lib/config/surge.js';
import { type RolloutView, describeProgress, rolloutStep } from '../../lib/master/lifecycle/rollout.js';

const view = (v: Partial<RolloutView>): RolloutView => ({
  size: 4,
  surge: 1,
  oldTarget: 4,
  oldLive: 4,
  draining: 0,
  newReady: 0,
  ...v,
});

/**
 * Play a rollout to its end: each boot readies its batch, each drain leaves
 * workers draining, each wait lets them exit. Returns the boots' sizes and the
 * most processes alive at once.
 */
function play(start: RolloutView): { boots: number[]; peak: number } {
  let v = { ...start };
  const boots: number[] = [];
  let peak = v.oldLive + v.draining + v.newReady;
  for (let turn = 0; turn < 100; turn++) {
    const step = rolloutStep(v);
    if (step.kind === 'done') return { boots, peak };
    if (step.kind === 'boot') {
      assert.ok(step.size > v.newReady, `a boot makes progress: ${JSON.stringify({ v, step })}`);
      boots.push(step.size);
      v = { ...v, newReady: step.size };
    } else if (step.kind === 'drain') v = { ...v, oldLive: v.oldLive - step.count, draining: v.draining + step.count };
    else v = { ...v, draining: 0 };
    peak = Math.max(peak, v.oldLive + v.draining + v.newReady);
  }
  throw new Error(`no end: ${JSON.stringify(v)}`);
}

describe('rolloutStep', () => {
  it('boots the first batch beside the full old generation', () => {
    assert.deepEqual(rolloutStep(view({})), { kind: 'boot', size: 1 });
    assert.deepEqual(rolloutStep(view({ size: 8, oldTarget: 8, oldLive: 8, surge: 3 })), { kind: 'boot', size: 3 });
  });

  it('drains as many old workers as a ready batch replaces, then waits for them to exit', () => {
    assert.deepEqual(rolloutStep(view({ surge: 2, newReady: 2 })), { kind: 'drain', count: 2 });
    assert.deepEqual(rolloutStep(view({ surge: 2, newReady: 2, oldLive: 2, draining: 2 })), { kind: 'wait' });
    assert.deepEqual(rolloutStep(view({ surge: 2, newReady: 2, oldLive: 2 })), { kind: 'boot', size: 4 });
  });

  it('is done once the new generation is ready in full (the caller drains the rest)', () => {
    assert.deepEqual(rolloutStep(view({ newReady: 4, oldLive: 1 })), { kind: 'done' });
  });

  it('a drained worker of another generation (a superseded candidate) holds its place until it exits', () => {
    assert.deepEqual(rolloutStep(view({ oldLive: 2, draining: 2 })), { kind: 'wait' });
    // then the next rollout boots its batches beside what the old generation kept
    assert.deepEqual(rolloutStep(view({ oldLive: 2 })), { kind: 'boot', size: 1 });
  });

  it('never exceeds max(old target, new size) + surge, and boots in batches of the surge', () => {
    for (const [oldTarget, size, surge] of [
      [4, 4, 1],
      [4, 4, 2],
      [8, 8, 3],
      [6, 4, 1],
      [2, 4, 1],
      [128, 128, 32],
      [5, 5, 5],
    ] as const) {
      const { boots, peak } = play(view({ size, surge, oldTarget, oldLive: oldTarget }));
      const what = JSON.stringify({ oldTarget, size, surge, boots, peak });
      assert.ok(peak <= Math.max(oldTarget, size) + surge, what);
      assert.equal(boots.at(-1), size, what);
      for (const [i, b] of boots.entries()) assert.ok(b - (boots[i - 1] ?? 0) <= surge, what);
    }
  });

  it('a batch that died after it was ready is booted again before anything else drains', () => {
    // two of four ready, one of them died: the old generation (at 2) keeps its workers
    assert.deepEqual(rolloutStep(view({ surge: 2, newReady: 1, oldLive: 2 })), { kind: 'boot', size: 3 });
  });
});

describe('reloadSurge', () => {
  it('parses a count or a percentage, and nothing else', () => {
    assert.deepEqual(parseSurge('4'), { count: 4 });
    assert.deepEqual(parseSurge('25%'), { percent: 25 });
    for (const bad of ['0', '0%', '101%', '1025', '-1', '1.5', 'half', '', '%'])
      assert.equal(parseSurge(bad), null, bad);
  });

  it('rounds a percentage up to whole workers, at least 1 and at most all', () => {
    assert.equal(surgeOf('25%', 4), 1);
    assert.equal(surgeOf('25%', 10), 3);
    assert.equal(surgeOf('1%', 4), 1);
    assert.equal(surgeOf('100%', 32), 32);
    assert.equal(surgeOf('8', 4), 4);
  });

  it('says how far a rollout got', () => {
    assert.equal(
      describeProgress({ batches: 2, ofBatches: 4, ready: 4, size: 8 }),
      'after 2 of 4 batches (4 of 8 workers)',
    );
  });
});
