import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  childrenOf,
  cleanup,
  freePort,
  isRunning,
  request,
  run,
  tempDir,
  track,
  waitFor,
  type Proc,
} from '../support/harness.js';
import { Load, stopAllLoads } from '../support/load.js';

const dirs: string[] = [];
after(async () => {
  await stopAllLoads();
  await cleanup(dirs);
});

/** An app answering "<version> <pid>"; `write` replaces its code (`before` runs as it loads). */
function appDir(): { dir: string; app: string; write: (version: string, before?: string) => void } {
  const dir = tempDir();
  dirs.push(dir);
  const app = join(dir, 'app.js');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const write = (version: string, before = '') =>
    writeFileSync(app, `${before}\nexport default (req, res) => res.end('${version} ' + process.pid);\n`);
  write('v1');
  return { dir, app, write };
}

async function start(dir: string, args: string[]): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = run(['start', '-b', `127.0.0.1:${port}`, ...args], { cwd: dir });
  await proc.line(/Booted \d+ worker/, 20_000);
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** The most worker processes (children of the master) seen, sampled every 50 ms until stopped. */
function sampleChildren(master: number): { max: () => number; stop: () => void } {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, childrenOf(master).length)), 50);
  return { max: () => max, stop: () => clearInterval(timer) };
}

/** Every one of `n` answers comes from `version`, and from a worker that is a child of the master. */
async function allServe(proc: Proc, url: string, version: string, n = 24): Promise<boolean> {
  for (let i = 0; i < n; i++) {
    const [v, pid] = (await request(`${url}/`)).body.split(' ');
    if (v !== version || !childrenOf(proc.pid).includes(Number(pid))) return false;
  }
  return true;
}

// each worker of a new release takes a while to load, so a rollout lasts long enough to watch
const SLOW_LOAD = 'await new Promise((r) => setTimeout(r, 300));';

describe('rolling reload (--reload-surge)', () => {
  for (const reusePort of [false, true]) {
    it(`replaces 4 workers one at a time under load: no failed request, never more than 5 workers${reusePort ? ' (reusePort)' : ''}`, async () => {
      const { dir, app, write } = appDir();
      const { proc, url } = await start(dir, [
        app,
        '-w',
        '4',
        '--reload-surge',
        '1',
        ...(reusePort ? ['--reuse-port'] : []),
      ]);
      await waitFor(() => childrenOf(proc.pid).length === 4, 'four workers');
      const before = childrenOf(proc.pid);
      const load = new Load(url, { keepAlive: 4, fresh: 2, path: '/' });
      await load.flowing();
      const sampler = sampleChildren(proc.pid);
      write('v2', SLOW_LOAD);
      proc.kill('SIGHUP');
      await proc.line(/Reloaded: generation 2/, 30_000);
      await waitFor(() => before.every((p) => !isRunning(p)), 'the first generation gone', 20_000);
      await load.flowing(50);
      sampler.stop();
      const result = await load.stop();
      console.log(`# ${result.ok} requests, ${result.failed} failed; at most ${sampler.max()} workers`);
      assert.equal(result.failed, 0, result.errors.join(', '));
      assert.ok(sampler.max() <= 5, `${sampler.max()} worker processes at once (workers + surge is 5)`);
      assert.equal(childrenOf(proc.pid).length, 4);
      assert.ok(await allServe(proc, url, 'v2'), 'every worker serves the new release');
      proc.kill('SIGQUIT');
      await proc.exit;
    });
  }

  it('USR2 during a rollout starts the new master at once', async () => {
    const { dir, app, write } = appDir();
    const pidfile = join(dir, 'master.pid');
    const { proc, url } = await start(dir, [app, '-w', '4', '--reload-surge', '1', '-p', pidfile]);
    write('v2', 'await new Promise((r) => setTimeout(r, 1500));');
    proc.kill('SIGHUP');
    await waitFor(async () => (await request(`${url}/`)).body.startsWith('v2 '), 'a v2 worker serving', 20_000);
    proc.kill('SIGUSR2');
    // handled while three batches of 1.5 s each are still to come
    await proc.line(/Handling signal: USR2/, 3_000);
    assert.equal(proc.count(/Reloaded: generation/), 0, 'USR2 waited for the rollout');
    const child = await waitFor(() => {
      const pid = Number(readFileSync(`${pidfile}.2`, 'utf8'));
      return pid > 0 ? pid : null;
    }, 'the new master');
    track(child);
    process.kill(child, 'SIGQUIT');
    await waitFor(() => !isRunning(child), 'the new master gone', 10_000);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('refuses a bad --reload-surge with one line naming it', async () => {
    const { dir, app } = appDir();
    for (const bad of ['0', '150%', 'half']) {
      const proc = run(['start', '-b', `127.0.0.1:${await freePort()}`, app, '--reload-surge', bad], { cwd: dir });
      const { code } = await proc.exit;
      assert.notEqual(code, 0);
      const errors = proc.lines.filter((l) => l.trim());
      assert.equal(errors.length, 1, proc.output);
      assert.match(errors[0]!, new RegExp(`reloadSurge.*"${bad}".*percentage`));
    }
  });
});
