import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CrashBackoff } from '../../lib/master/pool/crash-backoff.js';

describe('CrashBackoff (clock injected, ms)', () => {
  it('doubles from 100 ms for workers that die before or within 1 s of ready, capped at 10 s', () => {
    const b = new CrashBackoff();
    const delays = [];
    for (let i = 0; i < 10; i++) delays.push(b.recordExit(0, 1000 + i * 10));
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });

  it('a worker that served for 1 s or more is no crash loop: no delay', () => {
    const b = new CrashBackoff();
    assert.equal(b.recordExit(999, 0), 100);
    assert.equal(b.recordExit(1000, 10), 0);
    assert.equal(b.wait(10), 90);
  });

  it('wait() counts down to the next allowed spawn', () => {
    const b = new CrashBackoff();
    b.recordExit(0, 5000);
    b.recordExit(0, 5000);
    assert.equal(b.wait(5000), 200);
    assert.equal(b.wait(5150), 50);
    assert.equal(b.wait(5200), 0);
    assert.equal(b.wait(9999), 0);
  });

  it('resets the streak after 30 s without a crash', () => {
    const b = new CrashBackoff();
    for (let i = 0; i < 5; i++) b.recordExit(0, i);
    assert.equal(b.recordExit(0, 4 + 30_000), 3200, 'exactly 30 s later: still the same streak');
    assert.equal(b.recordExit(0, 4 + 30_000 + 30_001), 100);
  });
});
