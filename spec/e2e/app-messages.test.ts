// Apps that use process.send() for their own ends (PM2's 'ready', an event
// of their own, prom-client's cluster messages) are served normally: the
// worker keeps the app's 'ready' to itself (it matters only with waitReady),
// and the master ignores what it does not know, counts it, and says so in a
// debug line.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { cli } from '../support/exec.js';
import { FIXTURES, cleanup, isRunning, request, startServer, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe('an app that sends messages of its own', () => {
  it("process.send('ready') and process.send({ type: 'app:event' }) are ignored, and the app is served", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const pidfile = join(dir, 'app.pid');
    const { proc, url } = await startServer(['-p', pidfile, '--log-level', 'debug'], {
      app: join(FIXTURES, 'apps/sends-messages.cjs'),
    });
    for (let i = 0; i < 5; i++) {
      const reply = await request(`${url}/${i}`);
      assert.equal(reply.status, 200);
      assert.equal(reply.body, 'served\n');
    }
    assert.ok(isRunning(proc.pid));
    await proc.line(/\[DEBUG\] Worker \d+: ignored a message \(unknown\): type 'app:event'/);
    const status = await waitFor(async () => {
      const done = await cli(['status', '-p', pidfile, '--json']);
      const s = JSON.parse(done.stdout) as StatusSnapshot;
      return (s.ignoredMessages?.unknown ?? 0) >= 5 ? s : null;
    }, 'five ignored messages (one per request) in tsgund status');
    assert.equal(proc.count(/the string 'ready'/), 0, "the app's 'ready' never reaches the master");
    assert.equal(status.workers.length, 1);
    assert.equal(status.workers[0]!.state, 'ready');
    assert.equal(proc.count(/\[(ERROR|CRITICAL)\]/), 0, proc.output);
  });
});
