// A PM2 user's multi-app ecosystem file: one command starts every app as a
// daemon of its own, `ls` lists them, a reload by name applies edits to env
// and instances, and the app's console.log lands in out_file. A background
// worker without a port runs beside them.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RUN_DIR, cleanup, freePort, request, run, tempDir, track, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const cli = async (args: string[], cwd?: string) => {
  const p = run(args, cwd ? { cwd } : {});
  const { code } = await p.exit;
  return { code, out: p.output };
};

const pidOf = (name: string) => Number(readFileSync(join(RUN_DIR, `${name}.pid`), 'utf8'));

function ecosystem(dir: string, ports: number[], feature: string, instances: number, queue = true): void {
  const app = (name: string, port: number, extra = '') =>
    `{ name: '${name}', script: '${name}.js', env: { PORT: ${port}, HOST: '127.0.0.1', FEATURE: '${feature}' }${extra} }`;
  // a background worker, as PM2 runs it: no port, never listens
  const worker = queue ? "  { name: 'queue', script: 'queue.js', out_file: 'logs/queue.out.log' },\n" : '';
  writeFileSync(
    join(dir, 'pm2.config.js'),
    `module.exports = { apps: [\n  ${app('api', ports[0]!, `, instances: ${instances}, out_file: 'logs/api.out.log', time: true, kill_signal: 'SIGINT'`)},\n` +
      `  ${app('ws', ports[1]!)},\n${worker}  { name: 'cron', script: 'api.js', autostart: false },\n] };\n`,
  );
}

describe('a multi-app ecosystem file', () => {
  it('starts every app as its own daemon; ls; reload NAME applies env and instances; console.log in out_file; kill_signal', async () => {
    const dir = tempDir();
    dirs.push(dir);
    mkdirSync(join(dir, 'logs'));
    writeFileSync(
      join(dir, 'api.js'),
      "console.log('api booting with FEATURE=' + process.env.FEATURE);\nprocess.on('SIGINT', () => console.log('api cleanup ' + process.pid));\nmodule.exports = (req, res) => res.end('api ' + process.env.FEATURE);\n",
    );
    writeFileSync(join(dir, 'ws.js'), "module.exports = (req, res) => res.end('ws');\n");
    writeFileSync(
      join(dir, 'queue.js'),
      "console.log('queue consuming, PORT=' + process.env.PORT);\nsetInterval(() => {}, 60_000);\n",
    );
    const ports = [await freePort(), await freePort()];
    ecosystem(dir, ports, 'off', 2);

    const started = await cli(['start', 'pm2.config.js'], dir);
    for (const name of ['api', 'ws', 'queue']) track(pidOf(name));
    assert.equal(started.code, 0, started.out);
    assert.match(started.out, /^queue: daemon started \(master pid \d+\)$/m, 'ready once loaded: it binds nothing');
    assert.match(started.out, /^api: daemon started \(master pid \d+\)$/m);
    assert.match(started.out, /^ws: daemon started \(master pid \d+\)$/m);
    const ls = (await cli(['ls'])).out;
    assert.match(ls, new RegExp(`^api\\s+${pidOf('api')}\\s+1\\s+running\\s+2/2\\s`, 'm'));
    assert.match(ls, new RegExp(`^ws\\s+${pidOf('ws')}\\s+1\\s+running\\s+1/1\\s`, 'm'));
    assert.doesNotMatch(ls, /^cron\s/m, 'autostart: false is not started');
    assert.match(ls, new RegExp(`^queue\\s+${pidOf('queue')}\\s+1\\s+running\\s+1/1\\s`, 'm'));
    await waitFor(
      () => readFileSync(join(dir, 'logs/queue.out.log'), 'utf8').includes('queue consuming, PORT=undefined'),
      'the background app runs, with no PORT',
    );
    assert.equal((await request(`http://127.0.0.1:${ports[0]}/`)).body, 'api off');
    const outFile = join(dir, 'logs/api.out.log');
    await waitFor(
      () => readFileSync(outFile, 'utf8').includes('api booting with FEATURE=off'),
      'console.log in out_file',
    );

    const logs = await cli(['logs', '-c', 'pm2.config.js', '--only', 'api', '-n', '50'], dir);
    assert.match(logs.out, /api booting with FEATURE=off/, 'tsgund logs reads out_file from the ecosystem file');

    ecosystem(dir, ports, 'on', 3);
    const reload = await cli(['reload', 'api']);
    assert.equal(reload.code, 0, reload.out);
    assert.match(reload.out, /generation 2 serving with 3 worker\(s\)/);
    assert.equal((await request(`http://127.0.0.1:${ports[0]}/`)).body, 'api on');
    assert.match(readFileSync(outFile, 'utf8'), /Settings changed: workers 2 -> 3; env \(FEATURE changed\)/);

    // the file: running apps reload, stopped ones start again, and the one it no longer lists is named
    assert.equal((await cli(['quit', 'ws'])).code, 0);
    ecosystem(dir, ports, 'on', 3, false);
    const all = await cli(['reload', 'pm2.config.js'], dir);
    assert.equal(all.code, 0, all.out);
    assert.match(all.out, /^no longer in pm2\.config\.js, left running: queue$/m);
    assert.equal((await cli(['quit', 'queue'])).code, 0);
    assert.match(all.out, /^api: reloaded master \d+: generation 3 serving with 3 worker\(s\)$/m);
    assert.match(all.out, /^ws: daemon started \(master pid \d+\)$/m);
    track(pidOf('ws'));

    // kill_signal: each drain (2 workers replaced, 3 replaced, 3 stopped) runs the app's SIGINT handler
    assert.equal((await cli(['stop', 'api'])).code, 0);
    assert.equal(readFileSync(outFile, 'utf8').match(/api cleanup \d+/g)?.length, 8);
    assert.equal((await cli(['quit', 'ws'])).code, 0);
    assert.match((await cli(['ls'])).out, /^no tsgund master is running\s*$/);
  });
});
