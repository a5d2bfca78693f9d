// Heartbeats: how often, when an idle worker skips one, and the shared grid.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { untilGrid } from '../../lib/grid.js';
import { heartbeatTiming } from '../../lib/master/pool/fork.js';
import { beatDue } from '../../lib/worker/heartbeat.js';

describe('heartbeats', () => {
  it('check in every second; idle beats so that a beat and a check-in fit in half the timeout, within 15 s', () => {
    assert.deepEqual(heartbeatTiming(30), { heartbeatMs: 1000, idleHeartbeatMs: 14_000 });
    assert.deepEqual(heartbeatTiming(120), { heartbeatMs: 1000, idleHeartbeatMs: 15_000 });
    assert.deepEqual(heartbeatTiming(3), { heartbeatMs: 750, idleHeartbeatMs: 750 });
    assert.deepEqual(heartbeatTiming(2), { heartbeatMs: 500, idleHeartbeatMs: 500 });
    assert.deepEqual(heartbeatTiming(0.1), { heartbeatMs: 100, idleHeartbeatMs: 100 });
    // timeout 0 (never): still a beat for status and memory checks
    assert.deepEqual(heartbeatTiming(0), { heartbeatMs: 1000, idleHeartbeatMs: 15_000 });
    for (const t of [0.5, 1, 3, 10, 30, 600]) {
      const { idleHeartbeatMs, heartbeatMs } = heartbeatTiming(t);
      // a late idle beat, and a whole missed one, still come within the timeout
      assert.ok(2 * (idleHeartbeatMs + heartbeatMs) <= t * 1000, `timeout ${t}`);
    }
  });

  it('a busy worker beats at every check-in, an idle one once per slot of the grid', () => {
    const last = { served: 10, at: 15_000 };
    assert.equal(beatDue(last, 11, 16_000, 7500), true, 'served since');
    assert.equal(beatDue(last, 10, 16_000, 7500), false, 'idle, same slot');
    assert.equal(beatDue(last, 10, 22_500, 7500), true, 'idle, next slot');
    assert.equal(beatDue(last, 10, 16_000, 0), true, 'no idle interval');
  });

  it('the grid: time to the next multiple of the interval, plus an offset', () => {
    assert.equal(untilGrid(250, 0, 1000), 0);
    assert.equal(untilGrid(250, 0, 1010), 240);
    assert.equal(untilGrid(250, 20, 1010), 10);
    assert.equal(untilGrid(250, 20, 1030), 240);
  });
});
