// stackOnTimeout's decisions: the capture's timing, the frames and kernel
// state of a report, its text, and the master's budget on the report pipe.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { MAX_REPORTS, hangText, readHangPipe, withHangPipe } from '../../lib/master/intake/hang-reports.js';
import { MAX_FRAMES, dueInMs, framesOf, taskState } from '../../lib/worker/hang-capture.js';
import { hangTiming } from '../../lib/worker/hang-watch.js';
import { HANG_REPORT_FD } from '../../lib/protocol/descriptors.js';

describe('hang reports', () => {
  it('capture before the timeout, with time left for the capture, at any timeout', () => {
    for (const timeoutMs of [500, 1000, 3000, 30_000, 2_147_483_000]) {
      const { captureAfterMs, pauseBudgetMs } = hangTiming(timeoutMs);
      assert.ok(captureAfterMs > 0 && captureAfterMs + pauseBudgetMs < timeoutMs, `timeout ${timeoutMs}`);
    }
    assert.deepEqual(hangTiming(3000), { captureAfterMs: 2000, pauseBudgetMs: 500 });
    assert.deepEqual(hangTiming(30_000), { captureAfterMs: 25_000, pauseBudgetMs: 1000 });
  });

  it('a capture is due once the last beat is older than captureAfterMs', () => {
    const ms = 1_000_000n;
    assert.equal(dueInMs(1000n * ms, 1500n * ms, 2000), 1500);
    assert.equal(dueInMs(1000n * ms, 3500n * ms, 2000), -500);
  });

  it('frames: the file from scriptParsed, lines and columns from 1, the depth bounded', () => {
    const scripts = new Map([['7', 'file:///srv/app.js']]);
    const call = { functionName: 'spinForever', location: { scriptId: '7', lineNumber: 5, columnNumber: 2 } };
    const anon = { functionName: '', location: { scriptId: '9', lineNumber: 0 } };
    assert.deepEqual(framesOf([call, anon], scripts), {
      frames: [
        { fn: 'spinForever', file: '/srv/app.js', line: 6, column: 3 },
        { fn: '(anonymous)', file: '(unknown)', line: 1, column: 1 },
      ],
      more: 0,
    });
    const deep = framesOf(new Array(MAX_FRAMES + 5).fill(call), scripts);
    assert.equal(deep.frames.length, MAX_FRAMES);
    assert.equal(deep.more, 5);
  });

  it('the state letter of a task stat line, whatever its command name holds', () => {
    assert.equal(taskState('123 (node) S 1 123 123 0 -1'), 'S');
    assert.equal(taskState('123 (my (odd) name) R 1 123'), 'R');
    assert.equal(taskState(''), '?');
  });

  it('the text: a stack trace, or why there is none with the kernel state', () => {
    const frames = [{ fn: 'spinForever', file: '/srv/app.js', line: 6, column: 3 }];
    const js = hangText({ type: 'hang', stuckMs: 2500, frames, more: 2 }, 3);
    assert.equal(js.message, "has sent no heartbeat for 2.5 s (timeout 3 s); its main thread's stack:");
    assert.equal(js.stack, '    at spinForever (/srv/app.js:6:3)\n    ... 2 more frame(s)');
    const native = hangText(
      { type: 'hang', stuckMs: 2000, frames: [], more: 0, native: { state: 'S', wchan: 'pipe_read' } },
      3,
    );
    assert.match(native.message, /no JavaScript stack: its main thread did not pause/);
    assert.equal(native.stack, '    main thread: state S (sleeping), wchan pipe_read');
  });

  it('the pipe: lines as parsed JSON (or raw text), at most MAX_REPORTS, and no line past the byte budget', () => {
    const got: unknown[] = [];
    const pipe = new PassThrough();
    readHangPipe(pipe, (raw) => got.push(raw));
    pipe.write('{"type":"hang"}\nnot json\n');
    for (let i = 0; i < MAX_REPORTS + 3; i++) pipe.write('{}\n');
    assert.deepEqual(got.slice(0, 2), [{ type: 'hang' }, 'not json']);
    assert.equal(got.length, MAX_REPORTS);
    assert.ok(pipe.destroyed);

    const long = new PassThrough();
    readHangPipe(long, (raw) => got.push(raw));
    long.write('x'.repeat(40 * 1024));
    assert.ok(long.destroyed);
  });

  it("a fork's stdio gets the pipe at its descriptor, after the ones it had", () => {
    const stdio = withHangPipe([0, 1, 2, 'ipc', 4, 'ignore']);
    assert.equal(stdio.length, HANG_REPORT_FD + 1);
    assert.equal(stdio[HANG_REPORT_FD], 'pipe');
    assert.deepEqual(stdio.slice(0, 7), [0, 1, 2, 'ipc', 4, 'ignore', 'ignore']);
  });
});
