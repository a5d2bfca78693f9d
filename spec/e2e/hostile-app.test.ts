// The worker boundary: an app running as the real `nobody` attacks the root
// master over its IPC channel (spec/fixtures/apps/hostile.cjs, one attack per
// request). After all of it the master still serves, has grown by less than
// 20 MiB, runs its target number of workers, listens on nothing new, created
// no file, and no forged text started a line of its error log.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  cleanup,
  freePort,
  isRunning,
  request,
  startServer,
  tempDir,
  waitFor,
  workersOf,
} from '../support/harness.js';
import { listeningAddresses } from '../support/listening.js';
import { cli } from '../support/exec.js';
import type { StatusSnapshot } from '../../lib/protocol/status.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const HOSTILE = join(FIXTURES, 'apps/hostile.cjs');
const TARGET = 2;
const MiB = 1024 * 1024;

const rssOf = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

const fdsOf = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

const pausesOf = (s: StatusSnapshot): Record<string, number> => s.channelPauses ?? {};

/** An error-log line as tsgund writes it: `[time] [pid] [LEVEL] message`. */
const LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] /;

describe('a hostile app as nobody', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  it('cannot crash, bind through, grow, flood or forge log lines in the master', async (t) => {
    const secret = tempDir('tsgund-rootonly-');
    dirs.push(secret);
    chmodSync(secret, 0o700);
    const run = tempDir('tsgund-hostile-');
    dirs.push(run);
    const pidfile = join(run, 'master.pid');
    const { proc, url, port } = await startServer(
      [
        '-u',
        'nobody',
        '-w',
        String(TARGET),
        '--graceful-timeout',
        '2',
        '-t',
        '10',
        '--log-level',
        'debug',
        '-p',
        pidfile,
      ],
      { app: HOSTILE },
    );
    const status = async (): Promise<StatusSnapshot> =>
      JSON.parse((await cli(['status', '-p', pidfile, '--json'])).stdout);
    const master = proc.pid;
    const pool = () => workersOf(master);
    const attack = async (path: string) => JSON.parse((await request(`${url}/attack/${path}`)).body);
    const atTarget = () => waitFor(() => pool().length === TARGET, 'the pool at its target', 20_000);
    for (let i = 0; i < 4; i++) assert.equal((await request(`${url}/`)).status, 200);
    const rssBefore = rssOf(master);
    const fdsBefore = fdsOf(master);
    const listening = listeningAddresses([master, ...pool()]);
    assert.deepEqual(listening, [`127.0.0.1:${port}`]);

    // unknown, malformed, internal and forged messages: ignored, the worker keeps serving
    const junk = await attack('junk');
    const forged = await attack('forged');
    assert.ok(isRunning(junk.pid) && isRunning(forged.pid));

    // descriptors sent to the master are closed and acknowledged
    assert.equal((await attack('handles')).delivered, true);

    // node:cluster's bind request: refused with an error (EACCES), nothing bound
    const otherPort = await freePort();
    const query = await attack(`getserver?port=${otherPort}`);
    assert.deepEqual([query.errno, query.handle], [-13, false]);
    const sock = join(secret, 'app.sock');
    assert.equal((await attack(`getserver?path=${encodeURIComponent(sock)}`)).errno, -13);
    // listen() on a descriptor (node:cluster would have the master adopt its own fd 3) or a handle
    for (const q of ['fd=3', 'handle=1']) {
      const { error } = await attack(`listen?${q}`);
      assert.match(error, /^the app called listen\(\) on (fd 3|a handle), which is not one of tsgund's binds \(127/);
    }
    await proc.line(/Worker \d+: refused to bind 127\.0\.0\.1:\d+ \(4\) for it \(node:cluster\)/);

    // a flood gets backpressure: the worker is read more slowly, keeps serving, and is not stopped
    const flooder = (await attack('flood')).pid;
    await waitFor(async () => pausesOf(await status()).ipc > 0, 'a pause of the IPC channel counted');
    await waitFor(async () => (await attack('flooded')).done, 'the flood to be read to its end', 20_000);
    assert.ok(isRunning(flooder), 'the flooding worker runs on');
    assert.equal(proc.count(new RegExp(`Worker ${flooder} `)), 0, proc.output);

    // garbage on the channel and a message without end: protocol violations, the worker is stopped
    const stoppedBefore = proc.count(/\[ERROR\] Worker \d+ sent/);
    for (const [name, line] of [
      ['garbage', /sent data that is not a message over its IPC channel/],
      ['oversized', /sent a message over \d+ bytes over its IPC channel/],
    ] as const) {
      const { pid } = await attack(name);
      await proc.line(new RegExp(`\\[ERROR\\] Worker ${pid} ${line.source}: stopping it`), 15_000);
      await waitFor(() => !isRunning(pid), `worker ${pid} to be stopped`, 15_000);
      await atTarget();
    }
    assert.equal(proc.count(/\[ERROR\] Worker \d+ sent/) - stoppedBefore, 2, 'one error line each');

    // workers that say they retire, again and again, and stay: one replacement at a time, killed after 2 s
    let most = 0;
    const retirees: number[] = [];
    for (let i = 0; i < 4; i++) {
      // a retiree still accepts, and is killed after 2 s: a request it had then is retried
      retirees.push((await attack('retire').catch(() => attack('retire'))).pid);
      most = Math.max(most, pool().length);
    }
    await waitFor(
      () => {
        most = Math.max(most, pool().length);
        return retirees.every((pid) => !isRunning(pid)) && pool().length === TARGET;
      },
      'the retiring workers to be killed and replaced',
      30_000,
    );
    assert.ok(most <= TARGET + 1, `at most ${TARGET + 1} workers, saw ${most}`);

    // after all of it
    assert.ok(isRunning(master));
    assert.equal((await request(`${url}/`)).status, 200);
    const grown = rssOf(master) - rssBefore;
    t.diagnostic(`master RSS ${(rssBefore / MiB).toFixed(1)} MiB before, grew by ${(grown / MiB).toFixed(1)} MiB`);
    if (process.env.HOSTILE_VERBOSE) t.diagnostic(proc.output);
    assert.ok(grown < 20 * MiB, `the master grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.equal(pool().length, TARGET);
    assert.ok(fdsOf(master) <= fdsBefore + 2, `the master holds ${fdsOf(master)} descriptors, ${fdsBefore} before`);
    assert.deepEqual(listeningAddresses([master, ...pool()]), listening);
    assert.ok(!existsSync(sock));
    assert.deepEqual(readdirSync(secret), []);
    const mentions = proc.lines.filter((l) => l.includes('FORGED'));
    assert.ok(mentions.length > 0, 'the forged texts were logged, escaped');
    for (const l of mentions) {
      assert.match(l, LOG_LINE, `a forged line: ${l}`);
      // a boot error is a report of several lines, each logged as a line of its own
      if (!/\[ERROR\] \[CRITICAL\] FORGED boot-error$/.test(l)) assert.match(l, /\\x0a\[CRITICAL\] FORGED/);
    }
    assert.ok(!proc.lines.some((l) => /^\s*\[CRITICAL\] FORGED/.test(l) || /^\s+at /.test(l)), proc.output);
  });
});
