// Nothing the app starts outlives its worker: each worker leads a process
// group, the master is a child subreaper, and what the app leaves behind is
// stopped when its worker exits, or at the latest when the master stops.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CLI,
  FIXTURES,
  cleanup,
  freePort,
  request,
  startServer,
  tempDir,
  waitFor,
  workersOf,
} from '../support/harness.js';
import { which } from '../support/exec.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const ORPHAN_MAKER = join(FIXTURES, 'orphan-maker.js');

/** ppid and pgrp of a live process; null once it is gone or a zombie. */
function procOf(pid: number): { ppid: number; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' ? null : { ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return null;
  }
}

/** Every live descendant of `root`. */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const p = /^\d+$/.test(entry) ? procOf(Number(entry)) : null;
    if (p) children.set(p.ppid, [...(children.get(p.ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

const spawned = async (url: string, path: string) => Number((await request(url + path)).body);

describe('descendants of the workers', () => {
  it('a worker leads its group; what it leaves gets TERM when it exits; after stop no descendant of the master remains', async () => {
    const { proc, url } = await startServer(['-w', '2'], { app: ORPHAN_MAKER });
    assert.doesNotMatch(proc.output, /may outlive their worker/);
    for (const w of workersOf(proc.pid)) assert.equal(procOf(w)?.pgrp, w, `worker ${w} leads its own group`);
    const child = await spawned(url, '/spawn');
    const detached = await spawned(url, '/spawn?detached=1');
    assert.equal((await request(`${url}/orphan?keep=1`)).status, 200);
    const worker = procOf(child)!.ppid;
    assert.equal(procOf(child)!.pgrp, worker, 'a child stays in its worker group');
    assert.equal(procOf(detached)!.pgrp, detached, 'a detached child leads its own');
    // the orphaned `sleep` (its shell exited) is re-parented to the master, a subreaper
    await waitFor(
      () => descendantsOf(proc.pid).some((p) => procOf(p)?.ppid === proc.pid && !workersOf(proc.pid).includes(p)),
      'an orphan re-parented to the master',
      5000,
    );
    process.kill(worker, 'SIGKILL');
    await waitFor(() => procOf(child) === null, "the killed worker's child to be stopped", 5000);
    await proc.line(new RegExp(`Stopping what worker ${worker} left running`), 5000);
    assert.ok(procOf(detached), 'a detached child lives on until the stop');
    await waitFor(() => workersOf(proc.pid).length === 2, 'the replacement', 15_000);
    const before = descendantsOf(proc.pid);
    assert.ok(before.includes(detached));
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    const left = before.filter((p) => procOf(p) !== null);
    assert.deepEqual(left, [], 'no descendant of the master remains');
  });

  it('Ctrl-C in a terminal stops the master, its workers (in groups of their own) and what they started', {
    skip: !which('script') && 'no script(1)',
  }, async () => {
    const port = await freePort();
    const cmd = [process.execPath, CLI, 'start', ORPHAN_MAKER, '-w', '2', '-b', `127.0.0.1:${port}`].join(' ');
    // script(1) runs the master on a pseudo-terminal, in its foreground group; a ^C written to it is the terminal's SIGINT
    const term = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let output = '';
    term.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise((resolve) => term.on('exit', resolve));
    try {
      await waitFor(() => /Booted 2 worker/.test(output), 'the master to boot', 15_000);
      const child = await spawned(`http://127.0.0.1:${port}`, '/spawn');
      term.stdin.write('\x03');
      await exited;
      assert.match(output, /Handling signal: INT, shutting down now/);
      assert.match(output, /Shutting down: tsgund master/);
      assert.equal(procOf(child), null, "the worker's child is stopped");
    } finally {
      term.kill('SIGKILL');
    }
  });

  it('without the addon, warns once that processes the app starts may outlive their worker', async () => {
    const empty = tempDir();
    dirs.push(empty);
    // node-gyp-build looks for the addon in $TSGUND_REAPER_PREBUILD instead of native/reaper
    const { proc, url } = await startServer(['-w', '1'], {
      app: ORPHAN_MAKER,
      env: { ...process.env, TSGUND_REAPER_PREBUILD: empty },
    });
    assert.equal((await request(url)).status, 200);
    assert.equal(proc.count(/may outlive their worker/), 1, proc.output);
    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
  });
});
