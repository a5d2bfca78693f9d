import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEsmLoadWarning, muteEsmLoadWarning } from '../../lib/worker/esm-load-warning.js';

const warning = (message: string, name = 'Warning'): Error => Object.assign(new Error(message), { name });

describe("Node's ESM-in-CommonJS warning in a worker", () => {
  it('is recognised in its current and older wording only', () => {
    assert.ok(isEsmLoadWarning(warning('Failed to load the ES module: /srv/app.ts. Make sure to set "type"')));
    assert.ok(isEsmLoadWarning(warning('To load an ES module, set "type": "module" in the package.json')));
    assert.ok(!isEsmLoadWarning(warning('Failed to load the ES module: x', 'DeprecationWarning')));
    assert.ok(!isEsmLoadWarning(warning('Possible EventEmitter memory leak detected')));
  });

  it('is skipped by the listeners present, which still get every other warning', () => {
    const before = process.listeners('warning');
    for (const l of before) process.removeListener('warning', l);
    const seen: string[] = [];
    process.on('warning', (w) => seen.push(w.message));
    try {
      muteEsmLoadWarning();
      process.emit('warning', warning('Failed to load the ES module: /srv/app.ts.'));
      process.emit('warning', warning('Possible EventEmitter memory leak detected'));
      assert.deepEqual(seen, ['Possible EventEmitter memory leak detected']);
    } finally {
      process.removeAllListeners('warning');
      for (const l of before) process.on('warning', l);
    }
  });
});
