import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Admission, TokenBucket, WORKER_MESSAGE_LIMIT } from '../../lib/master/intake/rate-limit.js';

const limit = { perSecond: 10, burst: 5, overdraft: 3 };
const takeN = (b: TokenBucket, n: number, now: number): Admission[] => Array.from({ length: n }, () => b.take(now));

describe('TokenBucket', () => {
  it('lets a burst through at once, then drops, then calls it a flood', () => {
    const b = new TokenBucket(limit, 0);
    assert.deepEqual(takeN(b, 5, 0), ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.deepEqual(takeN(b, 3, 0), ['drop', 'drop', 'flood']);
    assert.equal(b.take(0), 'flood');
  });

  it('refills at the sustained rate, up to the burst', () => {
    const b = new TokenBucket(limit, 0);
    takeN(b, 5, 0);
    assert.equal(b.take(100), 'ok'); // one token per 100 ms
    assert.equal(b.take(100), 'drop');
    const rested = new TokenBucket(limit, 0);
    assert.deepEqual(takeN(rested, 6, 60_000), ['ok', 'ok', 'ok', 'ok', 'ok', 'drop']);
  });

  it('never floods a worker that keeps to the rate, however long', () => {
    const b = new TokenBucket(limit, 0);
    for (let t = 0; t < 600_000; t += 100) assert.equal(b.take(t), 'ok', `at ${t} ms`);
  });

  it('floods a worker that stays a little over the rate, eventually', () => {
    const b = new TokenBucket(limit, 0);
    let t = 0;
    let last: Admission = 'ok';
    while (last !== 'flood' && t < 60_000) {
      t += 90; // 11 a second
      last = b.take(t);
    }
    assert.equal(last, 'flood');
    assert.ok(t > 5_000, `flooded after ${t} ms`);
  });

  it('ignores a clock that goes back', () => {
    const b = new TokenBucket(limit, 1000);
    takeN(b, 5, 1000);
    assert.equal(b.take(0), 'drop');
    assert.equal(b.take(1000), 'drop'); // no refill for time already counted
    assert.equal(b.take(1300), 'ok'); // 3 tokens since 1000 ms, 2 owed
  });

  it("leaves tsgund's own worker ample room: 10 heartbeats a second and a burst at boot", () => {
    const b = new TokenBucket(WORKER_MESSAGE_LIMIT, 0);
    assert.ok(takeN(b, 50, 0).every((a) => a === 'ok'));
    for (let t = 0; t < 60_000; t += 100) assert.equal(b.take(t), 'ok');
  });
});
