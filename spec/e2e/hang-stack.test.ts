// stackOnTimeout: a stuck worker's stack (or why there is none) is logged
// once, before the master's timeout kills it on time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { cli } from '../support/exec.js';
import { FIXTURES, cleanup, request, startServer, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const APP = join(FIXTURES, 'hang-app.js');
const TIMEOUT_S = 3;

/** A master with one worker of the hang app; `path` is requested once it is up. */
async function hangOn(path: string) {
  const dir = tempDir();
  dirs.push(dir);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const pidfile = join(dir, 'app.pid');
  const server = await startServer(['-w', '1', '-t', String(TIMEOUT_S), '-p', pidfile], {
    app: APP,
    env: { HANG_FIFO: fifo },
  });
  const worker = Number((await server.proc.line(/Booting worker with pid: (\d+)/))[1]);
  const sentAt = Date.now();
  void request(server.url + path).catch(() => {}); // never answered: the worker is killed
  const killed = await server.proc.line(new RegExp(`Worker \\(pid: ${worker}\\) was killed by SIGABRT`), 15_000);
  return { ...server, worker, pidfile, killedAfterMs: Date.now() - sentAt, killed };
}

const recordsOf = (lines: string[], pid: number) =>
  lines.flatMap((l, i) => (l.includes(`Worker ${pid} (generation 1) has sent no heartbeat`) ? [i] : []));

describe('a stuck worker', () => {
  it("spinning in JavaScript: one record with the app's function and file:line, then the kill on time", async () => {
    const { proc, worker, pidfile, killedAfterMs } = await hangOn('/spin');
    assert.ok(killedAfterMs < (TIMEOUT_S + 2) * 1000, `killed ${killedAfterMs} ms after the request`);
    const records = recordsOf(proc.lines, worker);
    assert.equal(records.length, 1, proc.output);
    assert.match(proc.lines[records[0]!]!, /\[ERROR\].*its main thread's stack:$/);
    assert.match(proc.lines[records[0]! + 1]!, /^ {4}at spinForever \(.*hang-app\.js:6:\d+\)$/);
    const done = await cli(['status', '-p', pidfile, '--json']);
    const { hangs } = JSON.parse(done.stdout) as StatusSnapshot;
    assert.equal(hangs?.length, 1);
    assert.deepEqual(
      { pid: hangs[0]!.pid, fn: hangs[0]!.frames[0]!.fn, line: hangs[0]!.frames[0]!.line },
      { pid: worker, fn: 'spinForever', line: 6 },
    );
  });

  it('blocked reading a FIFO: a record that says why there is no JavaScript stack, with its kernel state', async () => {
    const { proc, worker, killedAfterMs } = await hangOn('/fifo');
    assert.ok(killedAfterMs < (TIMEOUT_S + 2) * 1000, `killed ${killedAfterMs} ms after the request`);
    const records = recordsOf(proc.lines, worker);
    assert.equal(records.length, 1, proc.output);
    assert.match(proc.lines[records[0]!]!, /no JavaScript stack: its main thread did not pause/);
    assert.match(proc.lines[records[0]! + 1]!, /^ {4}main thread: state S \(sleeping\), wchan \S+$/);
  });
});
