import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { cleanup, tempDir } from '../support/harness.js';

// Only harmless paths here: were the guard broken, these removals would touch nothing.
test('cleanup refuses a path that is not a directory two levels down, before removing anything', async () => {
  const dir = tempDir();
  await assert.rejects(cleanup([dir, '/tsgund-no-such-dir']), /refusing to remove "\/tsgund-no-such-dir"/);
  await assert.rejects(cleanup(['relative/dir']), /refusing to remove "relative\/dir"/);
  // a string where a list belongs would otherwise be walked character by character
  await assert.rejects(cleanup('/tsgund-no-such-dir' as unknown as string[]), /refusing to remove "\/"/);
  assert.ok(existsSync(dir), 'nothing removed before the refusal');
  await cleanup([dir]);
  assert.ok(!existsSync(dir));
});
