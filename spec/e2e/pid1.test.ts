// tsgund as a container's first process (PID 1, no --init), for real: the
// master runs as PID 1 of a new PID namespace (`unshare --pid --fork
// --mount-proc`; the network namespace is shared, so loopback works). The test
// looks at the namespace from the host's /proc, where the namespace's init is
// the child of the `unshare` process it spawned.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CLI,
  FIXTURES,
  HELLO,
  Proc,
  ROOT,
  childrenOf,
  cleanup,
  freePort,
  request,
  tempDir,
  waitFor,
  workersOf,
  IN_FLIGHT,
  slowRequest,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const ORPHAN_MAKER = join(FIXTURES, 'orphan-maker.js');

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'PID namespaces are Linux-only';
  if (process.getuid?.() !== 0) return 'needs root to create a PID namespace (unshare --pid)';
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
  if (r.error) return 'unshare (util-linux) is not installed';
  if (r.status !== 0) return 'unshare --pid --fork --mount-proc is not permitted here';
  return false;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  comm: string;
}

/** Every process on the host (zombies included), from /proc. */
function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      out.push({
        pid: Number(entry),
        ppid: Number(ppid),
        state: state!,
        comm: stat.slice(stat.indexOf('(') + 1, close),
      });
    } catch {
      // raced with an exit
    }
  }
  return out;
}

/** The processes of the namespace whose init has host pid `init`, the init excluded. */
function insideNamespace(init: number): ProcInfo[] {
  const procs = allProcs();
  const inside = new Set([init]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (inside.has(p.ppid) && !inside.has(p.pid)) {
        inside.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => p.pid !== init && inside.has(p.pid));
}

const zombiesIn = (init: number) => insideNamespace(init).filter((p) => p.state === 'Z');

/** A process's pid inside its own PID namespace (last NSpid field). */
function nsPid(hostPid: number): number {
  const line = readFileSync(`/proc/${hostPid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('NSpid:'))!;
  return Number(line.trim().split(/\s+/).at(-1));
}

/** Start `tsgund start APP -w 1` as PID 1 of a new PID namespace and wait until it is ready. */
async function startAsPid1(app: string, extra: string[] = [], env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      process.execPath,
      CLI,
      'start',
      app,
      '-w',
      '1',
      '-b',
      `127.0.0.1:${port}`,
      ...extra,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', ...env },
    },
  );
  const proc = new Proc(child); // killed by pid in cleanup(), with everything under it
  await proc.line(/Booted \d+ worker/, 15_000);
  const master = childrenOf(proc.pid)[0]!;
  assert.equal(nsPid(master), 1, 'the master is PID 1 of its namespace');
  return { proc, master, url: `http://127.0.0.1:${port}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const orphans = (url: string, n: number) => Promise.all(Array.from({ length: n }, () => request(url + '/orphan')));

describe('as PID 1 of a container (PID namespace, no init)', { skip: skipReason() }, () => {
  it('reaps the orphans the app leaves behind, and still sees its own workers die', async () => {
    const { proc, master, url } = await startAsPid1(ORPHAN_MAKER, ['--log-level', 'debug']);
    assert.doesNotMatch(proc.output, /without the zombie reaper/);
    assert.match(proc.output, /Running as PID 1: reaping orphaned processes/);

    // an orphan is re-parented to the master, as in a container
    await request(url + '/orphan?keep=1');
    await waitFor(
      () => insideNamespace(master).some((p) => p.comm === 'sleep' && p.ppid === master && p.state !== 'Z'),
      'a live orphan re-parented to PID 1',
    );

    // orphans that exit 0.2 s after they are orphaned
    await orphans(url, 20);
    await waitFor(() => proc.count(/Reaped orphaned process \d+ \(exit code 0\)/) >= 20, '20 orphans reaped');
    await waitFor(
      () => zombiesIn(master).length === 0,
      `no zombie in the namespace; left: ${JSON.stringify(zombiesIn(master))}`,
      4000,
    );
    assert.ok(proc.count(/Reaped orphaned process \d+ \(exit code 0\)/) >= 20, proc.output);

    // libuv keeps getting its workers' exits while orphans are being reaped
    for (let round = 0; round < 3; round++) {
      const [worker] = workersOf(master);
      assert.ok(worker, 'a worker');
      const inner = nsPid(worker);
      await orphans(url, 10);
      await sleep(100 * round); // vary where the exits fall relative to the reaper's sweeps
      process.kill(worker, 'SIGKILL');
      await proc.line(new RegExp(`Worker \\(pid: ${inner}\\) was killed by SIGKILL`), 5000);
      await waitFor(() => workersOf(master).some((p) => p !== worker), 'a replacement worker', 15_000);
      await proc.line(new RegExp(`Booting worker with pid: (?!${inner}\\b)\\d+`));
    }
    await waitFor(() => request(url + '/orphan').then((r) => r.status === 200), 'the replacement serves', 15_000);
    // (those still running when their worker was killed were stopped with it: TERM to its process group)
    const reaped = /Reaped orphaned process \d+ \((exit code 0|killed by signal 15)\)/;
    await waitFor(() => proc.count(reaped) >= 51, 'every orphan reaped');
    await waitFor(
      () => zombiesIn(master).length === 0,
      `no zombie in the namespace; left: ${JSON.stringify(zombiesIn(master))}`,
      4000,
    );

    process.kill(master, 'SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  it('without the addon, warns once at start that zombies will not be reaped, and serves', async () => {
    const empty = tempDir();
    dirs.push(empty);
    // node-gyp-build looks for the addon in $TSGUND_REAPER_PREBUILD instead of native/reaper
    const { proc, master, url } = await startAsPid1(HELLO, [], { TSGUND_REAPER_PREBUILD: empty });
    assert.equal((await request(url + '/')).status, 200);
    assert.equal(proc.count(/without the zombie reaper/), 1, proc.output);
    assert.match(proc.output, /\[WARNING\] Running as PID 1 without the zombie reaper: .*Zombies will not be reaped/);
    assert.match(proc.output, /docker run --init, or tini/);
    process.kill(master, 'SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  it('leaves the children the master spawns itself (hooks) to libuv', async () => {
    const { proc, master, url } = await startAsPid1(ORPHAN_MAKER, ['-c', join(FIXTURES, 'master-children.config.js')]);
    // keep the reaper busy while the whenReady hook runs 40 children one after another
    const done = proc.line(/master children done: 40 exits, codes 3$/, 30_000);
    let finished = false;
    void done.then(
      () => (finished = true),
      () => (finished = true),
    );
    while (!finished) await orphans(url, 3);
    await done;
    // the last orphans exit 0.2 s after they are orphaned: wait until none is left, alive or not
    await waitFor(() => insideNamespace(master).every((p) => p.comm !== 'sleep'), 'every orphan gone', 10_000);
    assert.deepEqual(zombiesIn(master), []);
    process.kill(master, 'SIGQUIT');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  it('TERM lets an in-flight request finish and the master exits 0', async () => {
    const { proc, master, url } = await startAsPid1(IN_FLIGHT);
    const slow = slowRequest(url, 1000);
    await slow.handled;
    process.kill(master, 'SIGTERM');
    await proc.line(/Handling signal: TERM/);
    const reply = await slow.reply;
    assert.ok(!(reply instanceof Error) && reply.status === 200, String(reply));
    assert.match(reply.body, /^slept 1000 ms/);
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });

  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    it(`${sig.slice(3)} stops at once and the master exits 0; USR2 is refused`, async () => {
      const { proc, master, url } = await startAsPid1(IN_FLIGHT);
      process.kill(master, 'SIGUSR2');
      await proc.line(/USR2 refused: running as PID 1/);
      const slow = slowRequest(url, 20_000);
      await slow.handled;
      const t0 = Date.now();
      process.kill(master, sig);
      assert.deepEqual(await proc.exit, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
      assert.ok((await slow.reply) instanceof Error, 'the in-flight request was cut');
    });
  }
});
