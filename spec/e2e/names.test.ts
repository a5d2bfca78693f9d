import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RUN_DIR, cleanup, freePort, request, run, startServer, tempDir, track, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const cli = async (...args: string[]) => {
  const p = run(args);
  const { code } = await p.exit;
  return { code, out: p.output };
};

describe('masters by name', () => {
  it('reload NAME waits: a broken release exits 5 with the reason and the old workers serve; a good one exits 0', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const app = join(dir, 'api.js');
    writeFileSync(app, "module.exports = (req, res) => res.end('v1');\n");
    const s = await startServer([], { app });
    const ls = await cli('ls');
    assert.equal(ls.code, 0, ls.out);
    assert.match(ls.out, new RegExp(`^api\\s+${s.proc.pid}\\s+1\\s+running\\s+1/1\\s`, 'm'));

    appendFileSync(app, 'syntax error(\n');
    const broken = await cli('reload', 'api');
    assert.equal(broken.code, 5, broken.out);
    assert.match(broken.out, /reload of master \d+ failed, the running workers keep serving: .*SyntaxError/);
    assert.equal((await request(s.url)).body, 'v1');

    writeFileSync(app, "module.exports = (req, res) => res.end('v2');\n");
    const good = await cli('reload', 'api');
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /reloaded master \d+: generation 2 serving with 1 worker/);
    assert.equal((await request(s.url)).body, 'v2');

    const status = await cli('status', 'api');
    assert.match(status.out, /^\d+\s+tsgund\s+.*api\.js\s+2\s+running/m);
    const missing = await cli('reload', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.out, /no master named 'nope' is registered in .* \(tsgund ls lists the running ones\)/);
  });

  it('-D without -p writes NAME.pid in the run directory; stop NAME stops it and ls forgets it', async () => {
    const port = await freePort();
    const started = await cli(
      'start',
      join(import.meta.dirname, '../../../examples/hello.js'),
      '-D',
      '-n',
      'web',
      '-b',
      `127.0.0.1:${port}`,
    );
    assert.equal(started.code, 0, started.out);
    const pidfile = join(RUN_DIR, 'web.pid');
    const pid = Number(readFileSync(pidfile, 'utf8'));
    track(pid);
    assert.match((await cli('ls')).out, new RegExp(`^web\\s+${pid}\\s`, 'm'));
    assert.equal((await cli('reload', '-p', pidfile, '--no-wait')).out.trim(), `sent HUP to master ${pid}`);
    const stopped = await cli('stop', 'web');
    assert.equal(stopped.code, 0, stopped.out);
    await waitFor(() => !existsSync(pidfile), 'the pidfile removed');
    assert.doesNotMatch((await cli('ls')).out, /^web\s/m);
  });
});
