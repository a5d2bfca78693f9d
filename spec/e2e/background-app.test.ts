// An app that serves nothing (a queue consumer) runs with nothing bound: its
// workers are ready once it has loaded, nothing listens, and the { close } its
// factory returns is awaited on TERM. Serving with nothing bound is an error.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, run, tempDir, workersOf } from '../support/harness.js';
import { listeningAddresses } from '../support/listening.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

function project(app: string, config: Record<string, unknown>): string {
  const d = tempDir();
  dirs.push(d);
  writeFileSync(join(d, 'app.mjs'), app);
  writeFileSync(join(d, 'tsgund.config.json'), JSON.stringify({ app: 'app.mjs', bind: [], ...config }));
  return d;
}

describe('a background app (bind: [])', () => {
  it('is ready once loaded, listens nowhere, and its close() runs on TERM', async () => {
    const d = project(
      [
        'export default async () => {',
        '  const poll = setInterval(() => {}, 60_000);',
        "  console.log('consuming, PORT=' + process.env.PORT);",
        "  return { close: async () => { clearInterval(poll); console.log('closed ' + process.pid); } };",
        '};',
      ].join('\n'),
      { workers: 2 },
    );
    const proc = run(['start'], { cwd: d });
    await proc.line(/Booted 2 worker/, 15_000);
    assert.match(proc.output, /Nothing to bind: the app runs in the background, ready once loaded/);
    assert.match(proc.output, /consuming, PORT=undefined/);
    const workers = workersOf(proc.pid);
    assert.equal(workers.length, 2);
    assert.deepEqual(listeningAddresses([proc.pid, ...workers]), []);
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null }, proc.output);
    assert.deepEqual(proc.lines.filter((l) => /^closed \d+$/.test(l)).sort(), workers.map((w) => `closed ${w}`).sort());
  });

  it('-b none on the command line binds nothing, over a config file or $PORT', async () => {
    const d = project('setInterval(() => {}, 60_000);\n', { bind: '127.0.0.1:8000' });
    const p = run(['start', '-b', 'none', '--print-config'], { cwd: d, env: { PORT: '8123' } });
    assert.equal((await p.exit).code, 0, p.output);
    assert.deepEqual((JSON.parse(p.output) as { bind: string[] }).bind, []);
  });

  it('a request handler, or a listen(), with nothing bound fails to boot with a line saying to bind', async () => {
    const handler = run(['start'], { cwd: project('export default (_req, res) => res.end();\n', {}) });
    assert.equal((await handler.exit).code, 4, handler.output);
    assert.match(
      handler.output,
      /^tsgund: app 'app\.mjs' exports a request handler, but nothing is bound .*: give it a bind/m,
    );
    const listens = run(['start'], {
      cwd: project("import http from 'node:http';\nhttp.createServer().listen(3000);\n", {}),
    });
    assert.equal((await listens.exit).code, 4, listens.output);
    assert.match(listens.output, /^tsgund: .*listen\(\) on port 3000, but nothing is bound .*: give it a bind/m);
  });
});
