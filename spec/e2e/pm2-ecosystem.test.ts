// `tsgund start ecosystem.config.js`: a PM2 user's file, read as they wrote it.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { cli } from '../support/exec.js';
import { cleanup, freePort, request, run, tempDir, workersOf } from '../support/harness.js';
import { listeningAddresses } from '../support/listening.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

function project(app: Record<string, unknown>, extraApps = ''): string {
  const dir = tempDir();
  dirs.push(dir);
  mkdirSync(join(dir, 'srv'));
  writeFileSync(
    join(dir, 'srv/server.js'),
    [
      "const http = require('node:http');",
      "const v8 = require('node:v8');",
      'http.createServer((req, res) => res.end(JSON.stringify({',
      '  greeting: process.env.GREETING, cwd: process.cwd(),',
      '  heapMiB: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576),',
      '}))).listen(process.env.PORT || 3000);',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'ecosystem.config.js'), `module.exports = { apps: [${JSON.stringify(app)}${extraApps}] };\n`);
  return dir;
}

describe('PM2 ecosystem files', () => {
  it('reads script, instances (max = CPUs), env, node_args, cwd and name; one warning per unsupported field; --only picks the app', async () => {
    const dir = project(
      {
        name: 'web',
        script: 'server.js',
        cwd: 'srv',
        instances: 'max',
        exec_mode: 'cluster',
        env: { GREETING: 'hello' },
        node_args: '--max-old-space-size=96',
        max_memory_restart: '300M',
        log_date_format: 'YYYY',
        cron_restart: '0 0 * * *',
      },
      ", { name: 'worker', script: 'queue.js' }",
    );
    const r = await cli(['start', 'ecosystem.config.js', '--only', 'web', '--print-config'], {
      cwd: dir,
      env: { ...process.env, WEB_CONCURRENCY: '', PORT: '' },
    });
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(c.app, join(dir, 'srv/server.js'));
    assert.equal(c.workers, availableParallelism());
    assert.equal(c.name, 'web');
    assert.equal(c.chdir, join(dir, 'srv'));
    assert.equal(c.maxMemory, 300);
    assert.deepEqual(c.rawEnv, ['GREETING=hello', 'NODE_OPTIONS=--max-old-space-size=96']);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      "tsgund: warning: ecosystem.config.js: PM2 field 'log_date_format' ignored: dropped: every line starts with the timestamp in `[YYYY-MM-DD HH:MM:SS +ZZZZ]` form",
      "tsgund: warning: ecosystem.config.js: PM2 field 'cron_restart' ignored: dropped: run `tsgund reload NAME` from cron or a systemd timer",
    ]);
  });

  it('serves the app of the file, with its env and node_args, from the configured bind; flags win', async () => {
    const dir = project({
      script: 'server.js',
      cwd: 'srv',
      instances: 1,
      env: { GREETING: 'hello' },
      node_args: ['--max-old-space-size=96'],
    });
    const port = await freePort();
    const proc = run(['start', join(dir, 'ecosystem.config.js'), '-b', `127.0.0.1:${port}`, '-w', '2']);
    await proc.line(/Booted 2 worker/, 15_000);
    const body = JSON.parse((await request(`http://127.0.0.1:${port}/`)).body) as Record<string, unknown>;
    assert.deepEqual(body, { greeting: 'hello', cwd: join(dir, 'srv'), heapMiB: body.heapMiB });
    const ownMiB = getHeapStatistics().heap_size_limit / 1048576;
    assert.ok(Number(body.heapMiB) < ownMiB - 200, `node_args reached the worker (heap ${body.heapMiB} MiB)`);
    assert.deepEqual(listeningAddresses([proc.pid, ...workersOf(proc.pid)]), [`127.0.0.1:${port}`]);
  });
});
