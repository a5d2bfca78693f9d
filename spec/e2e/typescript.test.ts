// TypeScript configs and apps load through Node's own type stripping: no
// compiler at run time and no file written anywhere (the config directory is
// mounted read-only for the master and its workers).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CLI,
  HELLO,
  Proc,
  childrenOf,
  cleanup,
  freePort,
  request,
  run,
  startServer,
  tempDir,
  waitFor,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

function dir(files: Record<string, string>): string {
  const d = tempDir();
  dirs.push(d);
  chmodSync(d, 0o755); // readable by nobody
  for (const [name, body] of Object.entries(files)) writeFileSync(join(d, name), body);
  return d;
}

const canMount =
  process.getuid?.() === 0 && spawnSync('unshare', ['--mount', 'true'], { stdio: 'ignore' }).status === 0;

/** `tsgund ARGS` run from `cwd`, in a mount namespace where `cwd` is read-only (even for root). */
function runReadOnly(cwd: string, args: string[]): Proc {
  const script = 'mount --bind -o ro "$0" "$0" && exec "$@"';
  const child = spawn('unshare', ['--mount', 'sh', '-c', script, cwd, process.execPath, CLI, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '' },
  });
  return new Proc(child);
}

const hupDone = (proc: Proc, n: number) =>
  waitFor(() => proc.count(/Reloaded: generation/) >= n, `${n} reloads`, 20_000);

describe('TypeScript config files (type stripping)', () => {
  it('types, interfaces, `tsgund` without node_modules, a .ts import; read-only directory; HUP re-reads both files', {
    skip: !canMount && 'needs root and unshare --mount',
  }, async () => {
    const port = await freePort();
    const config = (extra: number) =>
      [
        "import { defineConfig } from 'tsgund';",
        "import type { UserConfig } from 'tsgund';",
        "import { workers } from './workers.ts';",
        'interface Extra { add: number }',
        `const extra: Extra = { add: ${extra} };`,
        `const base: UserConfig = { app: ${JSON.stringify(HELLO)}, bind: '127.0.0.1:${port}' };`,
        'export default defineConfig({ ...base, workers: workers + extra.add });',
      ].join('\n');
    const d = dir({ 'tsgund.config.ts': config(0), 'workers.ts': 'export const workers: number = 1;\n' });
    const before = readdirSync(d).sort();
    const proc = runReadOnly(d, ['start']);
    await proc.line(/Booted 1 worker/, 20_000);
    assert.equal((await request(`http://127.0.0.1:${port}/`)).status, 200);

    writeFileSync(join(d, 'workers.ts'), 'export const workers: number = 2;\n');
    proc.kill('SIGHUP');
    await hupDone(proc, 1);
    await waitFor(() => childrenOf(proc.pid).length === 2, 'the imported file re-read: 2 workers', 15_000);

    writeFileSync(join(d, 'tsgund.config.ts'), config(1));
    proc.kill('SIGHUP');
    await hupDone(proc, 2);
    await waitFor(() => childrenOf(proc.pid).length === 3, 'the config re-read: 3 workers', 15_000);

    assert.deepEqual(readdirSync(d).sort(), before, 'no file written beside the config');
    assert.doesNotMatch(proc.output, /EROFS|Warning/);
    proc.kill('SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  it('-u nobody: workers load the .mts config for their hook, as nobody', {
    skip: process.getuid?.() !== 0 && 'needs root',
  }, async () => {
    const d = dir({
      'tsgund.config.mts': [
        "import { defineConfig, type WorkerInfo } from 'tsgund';",
        "const describe = (w: WorkerInfo): string => 'worker ' + w.pid + ' hook as uid ' + process.getuid!();",
        'export default defineConfig({ workers: 1, postWorkerInit: (ctx, w) => ctx.log(describe(w)) });',
      ].join('\n'),
    });
    const { proc, url } = await startServer(['-u', 'nobody'], { cwd: d });
    await proc.line(/worker \d+ hook as uid 65534/);
    assert.equal((await request(url + '/')).status, 200);
    proc.kill('SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  it('.cts with require(), and a .ts config with import/export in a "type": "commonjs" package', async () => {
    const cases: Record<string, string>[] = [
      {
        'tsgund.config.cts':
          "const { defineConfig } = require('tsgund');\nconst n: number = 2;\nmodule.exports = defineConfig({ workers: n });\n",
      },
      {
        'package.json': '{ "type": "commonjs" }\n',
        'tsgund.config.ts':
          "import { defineConfig } from 'tsgund';\nexport default defineConfig({ workers: 2 as number });\n",
      },
    ];
    for (const files of cases) {
      const { proc } = await startServer([], { cwd: dir(files) });
      assert.equal(childrenOf(proc.pid).length, 2, Object.keys(files).join(' '));
      assert.doesNotMatch(proc.output, /Warning/);
      proc.kill('SIGQUIT');
      assert.deepEqual(await proc.exit, { code: 0, signal: null });
    }
  });
});

describe('tsgund start app.ts', () => {
  it('serves a TypeScript app; enum syntax fails to load with a one-line error (exit 4)', async () => {
    const d = dir({
      'app.ts': [
        "import type { IncomingMessage, ServerResponse } from 'node:http';",
        'interface Greeting { text: string }',
        "const hi: Greeting = { text: 'hello from app.ts' };",
        'export default (_req: IncomingMessage, res: ServerResponse): void => { res.end(hi.text); };',
      ].join('\n'),
      'enum.ts': 'enum Color { Red }\nexport default () => Color.Red;\n',
    });
    const { proc, url } = await startServer(['-w', '1'], { cwd: d, app: 'app.ts' });
    assert.equal((await request(url + '/')).body, 'hello from app.ts');
    proc.kill('SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });

    const bad = run(['start', 'enum.ts', '-b', `127.0.0.1:${await freePort()}`], { cwd: d });
    assert.deepEqual(await bad.exit, { code: 4, signal: null });
    assert.match(bad.output, /app 'enum.ts' failed to load: .*enum.*--experimental-transform-types/);
    assert.doesNotMatch(bad.output, /^\s+at /m);
  });
});
