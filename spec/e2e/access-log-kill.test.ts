// A worker SIGKILLed under load (as the OOM killer or the heartbeat timeout
// kill) must not take with it the access-log line of any request whose
// response the client got in full: each line is in the kernel before the
// last bytes of its response are handed to the socket.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, startServer, tempDir, waitFor, workersOf } from '../support/harness.js';
import { ACCESS_LINE, NumberedRequests, accessLogAccounting } from '../support/numbered-requests.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const KILLS = 3;

/** Serves numbered requests with an access log to `target`, SIGKILLs a worker KILLS times, then stops gracefully. */
async function killWorkersUnderLoad(target: string) {
  const { proc, url } = await startServer(['-w', '2', '--access-logfile', target]);
  // after 'exit', the master's stdout (the access log with '-') may still hold lines in the pipe
  const closed = new Promise<void>((resolve) => proc.child.once('close', () => resolve()));
  const load = new NumberedRequests(url);
  await load.flowing(200);
  for (let i = 0; i < KILLS; i++) {
    const [victim] = workersOf(proc.pid);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => {
      const workers = workersOf(proc.pid);
      return workers.length === 2 && !workers.includes(victim!);
    }, 'a replacement for the killed worker');
    await load.flowing(200);
  }
  await load.stop();
  proc.kill('SIGTERM');
  assert.deepEqual(await proc.exit, { code: 0, signal: null });
  await closed;
  console.log(`# ${load.ok.size} requests answered, ${load.failures.length} failed around ${KILLS} worker SIGKILLs`);
  return { proc, load };
}

describe('access log when a worker is SIGKILLed under load', () => {
  it('to a file: every request answered in full has its line', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const access = join(dir, 'access.log');
    const { load } = await killWorkersUnderLoad(access);
    // a line without an answer is allowed: the worker may die between the line and the response
    const { twice, missing } = accessLogAccounting([access], load.ok);
    assert.deepEqual({ twice, missing }, { twice: [], missing: [] });
  });

  it("to stdout ('-'): every request answered in full has its line", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { proc, load } = await killWorkersUnderLoad('-');
    const access = join(dir, 'stdout.log');
    // stdout carries only access lines; the error log goes to stderr, collected alongside
    writeFileSync(access, proc.lines.filter((l) => ACCESS_LINE.test(l) || l.startsWith('127.')).join('\n') + '\n');
    const { twice, missing } = accessLogAccounting([access], load.ok);
    assert.deepEqual({ twice, missing }, { twice: [], missing: [] });
  });
});
