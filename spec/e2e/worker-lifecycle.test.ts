// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the config files these tests write hold template literals as text
// What runs inside a worker around requests and at its end: preRequest and
// postRequest, workerExit after the last in-flight request, a factory's
// close(), and the drain event that lets an app end its streams.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  HELLO,
  cleanup,
  freePort,
  request,
  run,
  startServer,
  tempDir,
  waitFor,
  workersOf,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const linesOf = (file: string): string[] => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);

describe('worker lifecycle', () => {
  it('workerExit runs in the worker after its in-flight requests; preRequest and postRequest wrap each request', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const trace = join(dir, 'trace.txt');
    writeFileSync(trace, '');
    const port = await freePort();
    writeFileSync(
      join(dir, 'tsgund.config.mjs'),
      [
        "import { appendFileSync } from 'node:fs';",
        `const note = (line) => appendFileSync(${JSON.stringify(trace)}, line + '\\n');`,
        'export default {',
        `  app: ${JSON.stringify(HELLO)}, bind: '127.0.0.1:${port}', workers: 1,`,
        '  preRequest: (ctx, w, req) => note(`pre ${ctx.pid} ${req.url}`),',
        '  postRequest: (ctx, w, req, res) => note(`post ${ctx.pid} ${req.url} ${res.statusCode}`),',
        '  workerExit: (ctx, w) => note(`exit ${ctx.pid} ${w.pid}`),',
        '};',
      ].join('\n'),
    );
    const proc = run(['start'], { cwd: dir });
    await proc.line(/Booted 1 worker/);
    const [worker] = workersOf(proc.pid);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
    const slow = request(`http://127.0.0.1:${port}/slow?ms=1000`);
    await waitFor(() => linesOf(trace).includes(`pre ${worker} /slow?ms=1000`), 'the slow request to start');
    proc.kill('SIGTERM');
    assert.equal((await slow).status, 200);
    assert.equal((await proc.exit).code, 0);
    assert.deepEqual(linesOf(trace), [
      `pre ${worker} /`,
      `post ${worker} / 200`,
      `pre ${worker} /slow?ms=1000`,
      `post ${worker} /slow?ms=1000 200`,
      `exit ${worker} ${worker}`,
    ]);
  });

  it("a factory's close() runs in the worker when it stops", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const marker = join(dir, 'closed.txt');
    writeFileSync(marker, '');
    const { proc, url } = await startServer([], {
      app: join(FIXTURES, 'apps/factory-close.js'),
      env: { ...process.env, MARKER: marker },
    });
    assert.match((await request(url)).body, /^factory \d+/);
    const [worker] = workersOf(proc.pid);
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/);
    await waitFor(() => readFileSync(marker, 'utf8') === `close ${worker}\n`, 'close() of the old worker');
  });

  it('an SSE stream counts as in flight, and ends when the app hears tsgund:drain', async () => {
    const { proc, port } = await startServer(['--graceful-timeout', '30'], { app: join(FIXTURES, 'apps/sse.js') });
    const events = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`http://127.0.0.1:${port}/events`, resolve),
    );
    let text = '';
    events.setEncoding('utf8').on('data', (d: string) => (text += d));
    await waitFor(() => text.includes('data: hello'), 'the first event');
    const ended = new Promise<void>((resolve) => events.on('end', resolve));
    const stopAt = Date.now();
    proc.kill('SIGTERM');
    await ended;
    assert.match(text, /event: bye\ndata: draining\n\n$/);
    assert.equal((await proc.exit).code, 0);
    assert.ok(Date.now() - stopAt < 10_000, 'stopped when the stream ended, not at the graceful timeout');
  });
});
