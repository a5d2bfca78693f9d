import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
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
  waitFor,
  type Proc,
} from '../support/harness.js';
import { Load } from '../support/load.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

/** An app in a temp dir answering "<version> <pid>", rewritten by the test. */
function appDir(version = 'v1'): {
  dir: string;
  app: string;
  setVersion: (v: string) => void;
  breakApp: (code: string) => void;
} {
  const dir = tempDir();
  dirs.push(dir);
  const app = join(dir, 'app.js');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const setVersion = (v: string) =>
    writeFileSync(app, `export default (req, res) => res.end('${v} ' + process.pid);\n`);
  setVersion(version);
  return { dir, app, setVersion, breakApp: (code) => writeFileSync(app, code) };
}

async function startIn(dir: string, args: string[], port?: number): Promise<{ proc: Proc; url: string; port: number }> {
  const bindFlag: string[] = [];
  if (!port) {
    port = await freePort();
    bindFlag.push('-b', `127.0.0.1:${port}`);
  }
  const proc = run(['start', ...bindFlag, ...args], { cwd: dir });
  await proc.line(/Booted \d+ worker/, 15_000);
  return { proc, url: `http://127.0.0.1:${port}`, port };
}

const reloadsDone = (proc: Proc, n: number) =>
  waitFor(
    () => proc.count(/Reloaded: generation/) >= n,
    () => `${n} reload(s) in:\n${proc.output}`,
    20_000,
  );

describe('HUP', () => {
  it('rolls a new generation under load with zero failed requests and new code', async () => {
    const { dir, app, setVersion } = appDir('v1');
    const { proc, url } = await startIn(dir, [app, '-w', '2']);
    const load = new Load(url, { keepAlive: 8, fresh: 4, path: '/' });
    await load.flowing();
    const before = childrenOf(proc.pid);
    for (let i = 2; i <= 4; i++) {
      setVersion(`v${i}`);
      const t0 = Date.now();
      proc.kill('SIGHUP');
      await reloadsDone(proc, i - 1);
      await waitFor(async () => (await request(url + '/')).body.startsWith(`v${i} `), `v${i} served`);
      console.log(`# HUP ${i - 1}: new generation serving after ${Date.now() - t0} ms`);
      await load.flowing(100);
    }
    const result = await load.stop();
    console.log(`# under load: ${result.ok} requests, ${result.failed} failed`);
    assert.equal(result.failed, 0, result.errors.join(', '));
    await waitFor(() => childrenOf(proc.pid).length === 2, 'two workers after the reloads');
    assert.ok(
      before.every((p) => !isRunning(p)),
      'the first generation is gone',
    );
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('re-reads every config format from disk', async () => {
    const formats: Record<string, (n: number) => string> = {
      'tsgund.config.json': (n) => JSON.stringify({ workers: n }),
      '.tsgundrc.yaml': (n) => `workers: ${n}\n`,
      'tsgund.config.cjs': (n) => `module.exports = { workers: ${n} };\n`,
      'tsgund.config.mjs': (n) => `export default { workers: ${n} };\n`,
      'tsgund.config.js': (n) => `export default { workers: ${n} };\n`,
      'tsgund.config.ts': (n) => `const workers: number = ${n};\nexport default { workers };\n`,
    };
    await Promise.all(
      Object.entries(formats).map(async ([file, body]) => {
        const { dir, app } = appDir();
        writeFileSync(join(dir, file), body(1));
        const { proc } = await startIn(dir, [app]);
        assert.equal(childrenOf(proc.pid).length, 1, file);
        for (const n of [2, 3]) {
          writeFileSync(join(dir, file), body(n));
          proc.kill('SIGHUP');
          await reloadsDone(proc, n - 1);
          await waitFor(() => childrenOf(proc.pid).length === n, `${file}: ${n} workers`);
        }
        proc.kill('SIGQUIT');
        await proc.exit;
      }),
    );
  });

  it('keeps serving on the old config when the new one is invalid, and a later good HUP works', async () => {
    const { dir, app } = appDir();
    const config = join(dir, 'tsgund.config.json');
    writeFileSync(config, JSON.stringify({ workers: 2 }));
    const { proc, url } = await startIn(dir, [app]);
    const load = new Load(url, { keepAlive: 4, fresh: 2, path: '/' });
    await load.flowing();
    const workers = childrenOf(proc.pid);
    writeFileSync(config, JSON.stringify({ workers: 'many' }));
    proc.kill('SIGHUP');
    await proc.line(/reload failed, keeping the running workers and configuration: .*setting 'workers' is "many"/);
    writeFileSync(config, '{ "workers": 3,, }');
    proc.kill('SIGHUP');
    await waitFor(() => proc.count(/reload failed/) === 2, 'the syntax error reported');
    await load.flowing(100);
    assert.deepEqual(childrenOf(proc.pid), workers, 'the same workers still serve');
    writeFileSync(config, JSON.stringify({ workers: 3 }));
    proc.kill('SIGHUP');
    await reloadsDone(proc, 1);
    await waitFor(() => childrenOf(proc.pid).length === 3, 'three workers');
    const result = await load.stop();
    assert.equal(result.failed, 0, result.errors.join(', '));
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('keeps the old generation when the new one fails to boot or misses --boot-timeout', async () => {
    const { dir, app, setVersion, breakApp } = appDir('v1');
    // 3 s: long enough for a good release to boot on a loaded machine (0.3 s here), short enough to wait out twice
    const { proc, url } = await startIn(dir, [app, '-w', '2', '--boot-timeout', '3']);
    const load = new Load(url, { keepAlive: 4, fresh: 2, path: '/' });
    await load.flowing();
    const workers = childrenOf(proc.pid);
    breakApp("throw new Error('syntax of doom');\n");
    proc.kill('SIGHUP');
    await proc.line(/reload failed, the running workers keep serving: .*syntax of doom/);
    breakApp('await new Promise(() => setTimeout(() => {}, 60000));\nexport default () => {};\n');
    proc.kill('SIGHUP');
    await proc.line(
      // the worker tells why just before the master's own boot timeout would (on a loaded machine the master may be first)
      /reload failed, the running workers keep serving: (app '.*' did not finish loading within the boot timeout \(3 s\)|gave up waiting for workers to report ready after 3 s \(boot-timeout\))/,
      15_000,
    );
    const hanging = join(dir, 'tsgund.config.mjs');
    writeFileSync(hanging, 'await new Promise(() => setTimeout(() => {}, 60000));\nexport default {};\n');
    proc.kill('SIGHUP');
    await proc.line(
      /reload failed, keeping the running workers and configuration: gave up waiting for the config file to load after 3 s/,
      15_000,
    );
    rmSync(hanging);
    await load.flowing(100);
    await waitFor(() => childrenOf(proc.pid).join() === workers.join(), 'only the old workers left');
    assert.match((await request(url + '/')).body, /^v1 /);
    setVersion('v2');
    proc.kill('SIGHUP');
    await reloadsDone(proc, 1);
    await waitFor(async () => (await request(url + '/')).body.startsWith('v2 '), 'v2 served');
    const result = await load.stop();
    assert.equal(result.failed, 0, result.errors.join(', '));
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('ten HUPs in one second coalesce and leave exactly one generation', async () => {
    const { dir, app } = appDir();
    const { proc, url } = await startIn(dir, [app, '-w', '2']);
    const load = new Load(url, { keepAlive: 4, fresh: 2, path: '/' });
    await load.flowing();
    for (let i = 0; i < 10; i++) {
      proc.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
    }
    await reloadsDone(proc, 1);
    await waitFor(() => childrenOf(proc.pid).length === 2, 'old generations drained', 20_000);
    const reloads = proc.count(/Reloaded: generation/);
    assert.ok(reloads >= 1 && reloads <= 2, `${reloads} reloads for 10 HUPs`);
    assert.equal(childrenOf(proc.pid).length, 2);
    const pids = new Set<string>();
    for (let i = 0; i < 20; i++) pids.add((await request(url + '/')).body.split(' ')[1]!);
    assert.ok([...pids].every((p) => childrenOf(proc.pid).includes(Number(p))));
    const result = await load.stop();
    assert.equal(result.failed, 0, result.errors.join(', '));
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('drops TTIN/TTOU changes and re-binds when bind changed', async () => {
    const { dir, app } = appDir();
    const [port, port2] = [await freePort(), await freePort()];
    const config = join(dir, 'tsgund.config.json');
    writeFileSync(config, JSON.stringify({ workers: 1, bind: `127.0.0.1:${port}` }));
    const { proc } = await startIn(dir, [app], port);
    proc.kill('SIGTTIN');
    await waitFor(() => childrenOf(proc.pid).length === 2, 'two workers after TTIN');
    writeFileSync(config, JSON.stringify({ workers: 1, bind: [`127.0.0.1:${port}`, `127.0.0.1:${port2}`] }));
    proc.kill('SIGHUP');
    await reloadsDone(proc, 1);
    await waitFor(() => childrenOf(proc.pid).length === 1, 'back to the configured count');
    assert.equal((await request(`http://127.0.0.1:${port2}/`)).status, 200);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);
    proc.kill('SIGQUIT');
    await proc.exit;
  });
});

describe('--reload', () => {
  it('reloads when an application file changes', async () => {
    const { dir, app, setVersion } = appDir('v1');
    const { proc, url } = await startIn(dir, [app, '-w', '1', '--reload']);
    assert.match((await request(url + '/')).body, /^v1 /);
    await proc.line(/Watching for file changes/);
    setVersion('v2');
    await proc.line(/app.js changed, reloading/);
    await waitFor(async () => (await request(url + '/')).body.startsWith('v2 '), 'v2 served');
    proc.kill('SIGQUIT');
    await proc.exit;
  });
});
