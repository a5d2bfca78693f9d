import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appSignalEmitter } from '../../lib/worker/kill-signal.js';

describe("PM2's kill_signal in a worker", () => {
  it("runs the app's listeners of the signal, added after tsgund's, and not tsgund's own", () => {
    const calls: string[] = [];
    const ours = () => calls.push('tsgund');
    const app = (sig: string) => calls.push(`app ${sig}`);
    process.on('SIGUSR2', ours);
    const emit = appSignalEmitter('SIGUSR2');
    process.on('SIGUSR2', app);
    try {
      emit();
      assert.deepEqual(calls, ['app SIGUSR2']);
      appSignalEmitter('none')();
      assert.deepEqual(calls, ['app SIGUSR2']);
    } finally {
      process.off('SIGUSR2', ours);
      process.off('SIGUSR2', app);
    }
  });
});
