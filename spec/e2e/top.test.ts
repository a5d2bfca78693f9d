// `tsgund top` in plain-text mode (--once, or when stdout is not a terminal).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../support/exec.js';
import { cleanup, startServer, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe('tsgund top', () => {
  it('--once prints one frame: the master, then a row per worker', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const pidfile = join(dir, 'app.pid');
    const { proc } = await startServer(['-w', '2', '-p', pidfile, '-n', 'shop']);
    const done = await cli(['top', '-p', pidfile, '--once', '--interval', '0.3']);
    assert.equal(done.code, 0, done.stderr);
    const lines = done.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^shop  master ${proc.pid}  running  generation 1  workers 2/2  up `));
    assert.match(
      lines[3]!,
      /^PID +GEN +STATE +REQ\/S +LAG p99 +LAG max +ELU % +CPU % +RSS MiB +HEAP MiB +CONNS +UPTIME$/,
    );
    assert.equal(lines.length, 6, done.stdout);
    for (const line of lines.slice(4)) assert.match(line, /^\d+ +1 +ready +[\d.]+ /);
    assert.ok(!done.stdout.includes('\x1b'), 'no escape sequences in plain text');
  });

  it('finds the master by its name, and says so when no master has it', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const name = `top-e2e-${process.pid}`;
    const { proc } = await startServer(['-w', '1', '-p', join(dir, 'app.pid'), '-n', name]);
    const done = await cli(['top', name, '--once', '--interval', '0.2']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`^${name}  master ${proc.pid}  running`));
    const none = await cli(['top', `${name}-none`, '--once']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no master named 'top-e2e-\d+-none' is running/);
  });

  it('refuses a bad interval, and a master that is not there, with one line', async () => {
    const bad = await cli(['top', '-p', '/nonexistent/app.pid', '--interval', '0']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--interval is "0", expected seconds from 0\.2 to 3600/);
    const none = await cli(['top', '-p', '/nonexistent/app.pid', '--once']);
    assert.equal(none.code, 1);
    assert.equal(none.stderr.trimEnd().split('\n').length, 1, none.stderr);
  });
});
