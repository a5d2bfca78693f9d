import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { cleanup, request, signalPending, startServer, waitFor, workersOf } from '../support/harness.js';

after(() => cleanup());

/** The state letter of /proc/PID/stat: R, S, D, T (stopped) ... */
const stateOf = (pid: number): string => /\) (\S) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))![1]!;

describe('signals meant for the master', () => {
  it('TTIN, TTOU and WINCH sent to a worker never stop it; TERM of the master stays fast', async () => {
    const { proc, url } = await startServer(['-w', '1', '--graceful-timeout', '60']);
    const [worker] = workersOf(proc.pid);
    assert.ok(worker, 'a worker');
    for (const sig of ['SIGTTIN', 'SIGTTOU', 'SIGWINCH'] as const) {
      process.kill(worker, sig);
      await waitFor(() => !signalPending(worker, sig), `${sig} delivered`);
      assert.notEqual(stateOf(worker), 'T', `the worker is stopped after ${sig}`);
      assert.equal(Number((await request(`${url}/pid`)).body), worker, `the worker serves after ${sig}`);
    }
    assert.deepEqual(workersOf(proc.pid), [worker], 'the same worker, never replaced');
    const t0 = performance.now();
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    const ms = performance.now() - t0;
    assert.ok(ms < 10_000, `TERM took ${Math.round(ms)} ms (graceful timeout 60 s)`);
  });
});
