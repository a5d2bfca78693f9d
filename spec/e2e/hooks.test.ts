import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HELLO, cleanup, freePort, request, run, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe('server hooks', () => {
  it('are called at their documented moments; a failing hook is logged, not fatal', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const trace = join(dir, 'trace.txt');
    const port = await freePort();
    const names = [
      'onStarting',
      'onReload',
      'whenReady',
      'preFork',
      'postFork',
      'postWorkerInit',
      'workerInt',
      'childExit',
      'workerExit',
      'nworkersChanged',
      'onExit',
    ];
    const hooks = names.map(
      (n) =>
        `  ${n}: (ctx, arg) => { appendFileSync(${JSON.stringify(trace)}, ${JSON.stringify(n)} + ' ' + ctx.pid + '\\n'); },`,
    );
    writeFileSync(
      join(dir, 'tsgund.config.mjs'),
      [
        "import { appendFileSync } from 'node:fs';",
        'export default {',
        `  app: ${JSON.stringify(HELLO)}, bind: '127.0.0.1:${port}', workers: 1,`,
        ...hooks,
        "  preExec: () => { throw new Error('hook trouble'); },",
        '};',
      ].join('\n'),
    );
    const proc = run(['start'], { cwd: dir });
    await proc.line(/Booted 1 worker/);
    const lines = () =>
      readFileSync(trace, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]);
    await waitFor(() => lines().includes('whenReady'), 'whenReady');
    assert.deepEqual(lines(), ['onStarting', 'preFork', 'postFork', 'postWorkerInit', 'whenReady']);
    const masterLines = readFileSync(trace, 'utf8').trim().split('\n');
    assert.ok(
      masterLines.find((l) => l.startsWith('postWorkerInit'))!.split(' ')[1] !== String(proc.pid),
      'postWorkerInit runs in the worker',
    );
    proc.kill('SIGTTIN');
    await waitFor(() => lines().includes('nworkersChanged'), 'nworkersChanged');
    // a worker stopped before it loaded the hooks has no workerExit to run: let it boot
    await waitFor(() => lines().filter((l) => l === 'postWorkerInit').length === 2, 'the added worker');
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/);
    assert.ok(lines().includes('onReload'));
    // workerExit runs in each old worker before it exits, childExit in the master after
    await waitFor(() => lines().filter((l) => l === 'childExit').length >= 2, 'old workers exit');
    assert.ok(lines().filter((l) => l === 'workerExit').length >= 2);
    proc.kill('SIGUSR2');
    await proc.line(/hook preExec failed/);
    await proc.line(/started new master \(pid (\d+)\)/);
    const child = Number((await proc.line(/started new master \(pid (\d+)\)/))[1]);
    process.kill(child, 'SIGQUIT');
    await proc.line(/New master .* exited/);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200, 'still serving after the failed hook');
    proc.kill('SIGINT');
    await proc.exit;
    assert.ok(lines().includes('workerInt'), 'workerInt runs on INT in the worker');
    assert.equal(lines().at(-1), 'onExit');
  });
});
