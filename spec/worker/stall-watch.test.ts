import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { unlessStalled } from '../../lib/worker/stall-watch.js';

/** A channel that records its ref state. */
function fakeChannel() {
  const calls: string[] = [];
  return { calls, ref: () => calls.push('ref'), unref: () => calls.push('unref') };
}

describe('a load that nothing can settle', () => {
  it('fails as soon as the loop runs dry while the promise is pending', async () => {
    const loop = new EventEmitter();
    const channel = fakeChannel();
    const pending = unlessStalled(new Promise(() => {}), () => new Error('stalled'), channel, loop);
    assert.deepEqual(channel.calls, ['unref'], 'the channel to the master does not keep the loop alive meanwhile');
    loop.emit('beforeExit');
    await assert.rejects(pending, /^Error: stalled$/);
    assert.deepEqual(channel.calls, ['unref', 'ref']);
    assert.equal(loop.listenerCount('beforeExit'), 0);
  });

  it('gives the value of a promise that settles, and lets go of the loop', async () => {
    const loop = new EventEmitter();
    const channel = fakeChannel();
    assert.equal(await unlessStalled(Promise.resolve(7), () => new Error('stalled'), channel, loop), 7);
    assert.deepEqual(channel.calls, ['unref', 'ref']);
    assert.equal(loop.listenerCount('beforeExit'), 0);
    await assert.rejects(
      unlessStalled(Promise.reject(new RangeError('pool')), () => new Error('stalled'), fakeChannel(), loop),
      RangeError,
    );
  });

  it('is not armed without a channel (a process that was not forked)', async () => {
    const loop = new EventEmitter();
    const p = unlessStalled(Promise.resolve(1), () => new Error('stalled'), undefined, loop);
    assert.equal(loop.listenerCount('beforeExit'), 0);
    assert.equal(await p, 1);
  });
});
