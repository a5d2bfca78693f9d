import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkingIntervalMs } from '../../lib/worker/serve.js';

describe('connection checking interval', () => {
  it('lets headersTimeout and requestTimeout fire within a second of their value', () => {
    assert.equal(checkingIntervalMs(10_000, 300_000), 1000);
    assert.equal(checkingIntervalMs(60_000, 0), 1000);
    assert.equal(checkingIntervalMs(2000, 300_000), 250);
    assert.equal(checkingIntervalMs(60_000, 2000), 250, 'the shorter of the two decides');
  });

  it('never checks more often than every 100 ms, and has a value with both off', () => {
    assert.equal(checkingIntervalMs(100, 0), 100);
    assert.equal(checkingIntervalMs(0, 0), 1000);
  });
});
