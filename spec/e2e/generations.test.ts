import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { cleanup, freePort, request, run, tempDir, waitFor } from '../support/harness.js';
import { cli } from '../support/exec.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

// Each worker leaves `boot.<VERSION>.<pid>` in MARKS as it loads. VERSION=2
// waits until MARKS/fail exists, then fails to load: a candidate that boots
// slowly with new settings, and fails.
const APP = `import { existsSync, writeFileSync } from 'node:fs';
const { VERSION, MARKS } = process.env;
writeFileSync(MARKS + '/boot.' + VERSION + '.' + process.pid, '');
if (VERSION === '2') {
  while (!existsSync(MARKS + '/fail')) await new Promise((r) => setTimeout(r, 50));
  throw new Error('version 2 cannot start');
}
export default (req, res) => res.end(VERSION + ' ' + process.pid);
`;

/** pid → VERSION of every worker that started loading the app. */
function boots(marks: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync(marks)) {
    const m = /^boot\.(\w+)\.(\d+)$/.exec(name);
    if (m) found.set(Number(m[2]), m[1]!);
  }
  return found;
}

async function status(pidfile: string): Promise<StatusSnapshot> {
  const done = await cli(['status', '-p', pidfile, '--json']);
  assert.equal(done.code, 0, done.stderr);
  return JSON.parse(done.stdout) as StatusSnapshot;
}

describe('generations', () => {
  it("replaces a worker that dies during a reload with its own generation's settings", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const marks = join(dir, 'marks');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'app.js'), APP);
    mkdirSync(marks);
    const config = join(dir, 'tsgund.config.cjs');
    const stats = `127.0.0.1:${await freePort()}`;
    const writeConfig = (version: number) =>
      writeFileSync(
        config,
        `module.exports = { app: './app.js', workers: 2, statsBind: '${stats}', rawEnv: ['VERSION=${version}', 'MARKS=${marks}'] };\n`,
      );
    writeConfig(1);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const pidfile = join(dir, 'app.pid');
    const proc = run(['start', '-c', config, '-b', `127.0.0.1:${port}`, '-p', pidfile], { cwd: dir });
    await proc.line(/Booted 2 worker/, 20_000);
    const first = [...boots(marks).keys()];
    assert.equal(first.length, 2);

    writeConfig(2);
    proc.kill('SIGHUP');
    await waitFor(
      () => [...boots(marks).values()].filter((v) => v === '2').length === 2,
      'the candidate booting',
      20_000,
    );
    const candidate = [...boots(marks).keys()].filter((pid) => !first.includes(pid));
    const victim = first[0]!;
    process.kill(victim, 'SIGKILL');
    const replacement = await waitFor(
      () => [...boots(marks).keys()].find((pid) => !first.includes(pid) && !candidate.includes(pid)),
      () => `a replacement for ${victim} in:\n${proc.output}`,
      20_000,
    );
    assert.equal(boots(marks).get(replacement), '1', `the replacement ${replacement} loaded the candidate's settings`);
    // it serves the old settings, labelled with its own generation
    await waitFor(async () => (await request(url)).body === `1 ${replacement}`, `${replacement} serving`, 20_000);
    const during = await status(pidfile);
    assert.equal(during.state, 'reloading');
    assert.equal(during.workers.find((w) => w.pid === replacement)?.generation, 1);
    const gens = new Map(during.generations?.map((g) => [g.generation, g]));
    assert.equal(gens.get(1)?.role, 'serving');
    assert.equal(gens.get(2)?.role, 'booting');
    assert.equal(gens.get(1)?.configPath, config);
    assert.notEqual(gens.get(1)?.digest, gens.get(2)?.digest, 'the two settings differ');
    const table = await cli(['status', '-p', pidfile]);
    assert.match(table.stdout, new RegExp(`^ *1 +serving +2 +${gens.get(1)?.digest} +${config} `, 'm'));
    assert.match(table.stdout, new RegExp(`^ *2 +booting +2 +${gens.get(2)?.digest} +${config} `, 'm'));
    const metrics = (await request(`http://${stats}/metrics`)).body;
    assert.match(metrics, new RegExp(`^tsgund_worker_generation\\{pid="${replacement}"\\} 1$`, 'm'));
    assert.match(metrics, /^tsgund_generation_workers\{generation="1",role="serving",settings_digest="\w+",.*\} 2$/m);
    assert.match(metrics, /^tsgund_generation_workers\{generation="2",role="booting",.*\} 2$/m);

    writeFileSync(join(marks, 'fail'), '');
    await proc.line(/reload failed, the running workers keep serving: .*version 2 cannot start/, 20_000);
    // everything serves generation 1's settings, and nothing of the candidate is left
    await waitFor(async () => {
      const s = await status(pidfile);
      return s.workers.length === 2 && s.workers.every((w) => w.generation === 1 && w.state === 'ready');
    }, 'two ready workers of generation 1');
    for (let i = 0; i < 10; i++) assert.match((await request(url)).body, /^1 \d+$/);
    const s = await status(pidfile);
    assert.equal(s.generation, 1);
    assert.deepEqual(
      s.generations?.map((g) => [g.generation, g.role]),
      [[1, 'serving']],
    );
    assert.ok(!/killed by SIGQUIT/.test(proc.output), 'the candidate was drained, never quit');
    proc.kill('SIGQUIT');
    assert.equal((await proc.exit).code, 0);
  });
});
