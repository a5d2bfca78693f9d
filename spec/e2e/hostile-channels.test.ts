// The worker boundary beside the IPC messages: an app running as the real
// `nobody` floods and forges on its error-log pipe and answers the master's
// metrics requests with oversized and forged answers
// (spec/fixtures/apps/hostile-channels.cjs). The master stays bounded in
// memory, logs no forged line, and keeps its own series its own.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURES, cleanup, freePort, isRunning, request, startServer, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const APP = join(FIXTURES, 'apps/hostile-channels.cjs');
const TRANSPORT = join(FIXTURES, 'json-lines-transport.mjs');
const MiB = 1024 * 1024;

const rssOf = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** An error-log line as tsgund writes it: `[time] [pid] [LEVEL] message`, or a stack line indented. */
const LOG_LINE = /^(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] |\s)/;

describe('a hostile app on the pipe and metrics channels, as nobody', {
  skip: process.getuid?.() !== 0 && 'needs root',
}, () => {
  it('cannot grow the master through its error-log pipe, nor forge a line of it', async (t) => {
    const dir = tempDir('tsgund-channels-');
    dirs.push(dir);
    const config = join(dir, 'tsgund.config.mjs');
    const out = join(dir, 'transport.jsonl');
    writeFileSync(
      config,
      `import { JsonLinesTransport } from ${JSON.stringify(TRANSPORT)};\nexport default { errorLogTransports: () => [new JsonLinesTransport(${JSON.stringify(out)})] };\n`,
    );
    const { proc, url } = await startServer(['-u', 'nobody', '-w', '2', '-c', config, '--capture-output'], {
      app: APP,
    });
    const master = proc.pid;
    // a short flood first: what the first lines cost once (code, the young heap) is not growth
    await Promise.all([0, 1].map(() => request(`${url}/pipe/flood?ms=300`, { agent: false })));
    const before = rssOf(master);
    // two workers flood at once (fresh connections spread them), 4 s each
    const floods = await Promise.all([0, 1].map(() => request(`${url}/pipe/flood?ms=4000`, { agent: false })));
    const written = floods.reduce((sum, r) => sum + JSON.parse(r.body).written, 0);
    const grown = rssOf(master) - before;
    t.diagnostic(
      `master RSS ${(before / MiB).toFixed(1)} MiB, grew by ${(grown / MiB).toFixed(1)} MiB while the workers wrote ${(written / MiB).toFixed(0)} MiB`,
    );
    assert.ok(grown < 20 * MiB, `the master grew by ${(grown / MiB).toFixed(1)} MiB`);
    for (const r of floods) assert.ok(isRunning(JSON.parse(r.body).pid), 'a flooding worker is not stopped');

    const { pid } = JSON.parse((await request(`${url}/pipe/forge`)).body);
    await proc.line(
      new RegExp(`\\[${pid}\\] \\[ERROR\\] \\[2020-01-01 00:00:00 \\+0000\\] \\[1\\] \\[CRITICAL\\] FORGED\\\\x0d`),
      15_000,
    );
    const mentions = proc.lines.filter((l) => l.includes('FORGED'));
    assert.ok(mentions.length >= 3, proc.output.slice(-2000));
    for (const l of mentions) {
      assert.match(l, LOG_LINE, `a forged line: ${l}`);
      assert.doesNotMatch(l, /^\[2020/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be there
      assert.doesNotMatch(l, /[\x00-\x08\x0b-\x1f]/, 'no raw control byte');
    }
    // the transports get the same escaped text
    await waitFor(() => readFileSync(out, 'utf8').includes('FORGED'), 'the transport line');
    assert.ok(
      !readFileSync(out, 'utf8')
        .split('\n')
        .some((l) => l.includes('\\u001b')),
    );
  });

  it('cannot grow the master with oversized metrics answers, nor write its series', async (t) => {
    const statsPort = await freePort();
    const stats = `http://127.0.0.1:${statsPort}/metrics`;
    const { proc, url } = await startServer(
      ['-u', 'nobody', '-w', '2', '--log-level', 'debug', '--stats-bind', `127.0.0.1:${statsPort}`],
      {
        app: APP,
      },
    );
    const master = proc.pid;
    // a few scrapes first: what the first ones cost once (code, the young heap) is not growth
    for (let i = 0; i < 5; i++) await request(stats);
    const before = rssOf(master);
    for (let i = 0; i < 60; i++) {
      const reply = await request(stats);
      assert.equal(reply.status, 200);
      assert.ok(!reply.body.includes('app_big'), 'an oversized answer is dropped');
    }
    const grown = rssOf(master) - before;
    t.diagnostic(
      `master RSS ${(before / MiB).toFixed(1)} MiB, grew by ${(grown / MiB).toFixed(1)} MiB over 60 scrapes`,
    );
    assert.ok(grown < 20 * MiB, `the master grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.match(proc.output, /Worker \d+: dropped a message of \d+ bytes unparsed/);
    // a series named like tsgund's own is left out
    await request(`${url}/metrics/forge`);
    await waitFor(
      async () =>
        (await request(stats)).body.includes('app metrics named like') ||
        proc.output.includes("named like tsgund's own"),
      'the clash reported',
    );
    const body = (await request(stats)).body;
    assert.ok(!body.includes('forged'), body);
    assert.match(body, /^tsgund_workers\{state="ready"\} 2$/m);
  });
});
