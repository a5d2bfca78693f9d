// reusePort under load: every worker slot has its own SO_REUSEPORT socket, and
// no request may fail across TTIN, TTOU, HUP, a SIGKILLed worker and a USR2
// upgrade. Only requests the SIGKILLed worker had already accepted may fail,
// and they are counted apart (as in the chaos suite).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { CHAOS_APP, type Failure, TrackedLoad } from '../support/chaos-load.js';
import {
  CLI,
  cleanup,
  freePort,
  isRunning,
  request,
  run,
  tempDir,
  track,
  waitFor,
  workersOf,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const readPid = (file: string): number => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0);

// Asynchronous on purpose: a blocked event loop would stall the load generator's
// keep-alive clients, and the server would rightly close their idle connections.
async function status(pidfile: string): Promise<StatusSnapshot> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'status', '-p', pidfile, '--json']);
  return JSON.parse(stdout) as StatusSnapshot;
}

/** Listening sockets on `port`, from the kernel's table (one per slot with reusePort). */
function listeningSockets(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((l) => l.includes(hex) && l.split(/\s+/)[4] === '0A').length;
}

async function master(workers: number) {
  const dir = tempDir();
  dirs.push(dir);
  const app = join(dir, 'app.mjs');
  writeFileSync(app, CHAOS_APP);
  const pidfile = join(dir, 'app.pid');
  const port = await freePort();
  const proc = run(['start', app, '--reuse-port', '-w', String(workers), '-p', pidfile, '-b', `127.0.0.1:${port}`], {
    cwd: dir,
  });
  await proc.line(/Booted \d+ worker/, 15_000);
  return { proc, pidfile, port, url: `http://127.0.0.1:${port}` };
}

/** Workers of the current generation that report ready, by slot. */
const readySlots = async (pidfile: string): Promise<number[]> =>
  (await status(pidfile)).workers
    .filter((w) => w.state === 'ready')
    .map((w) => w.slot)
    .sort();

describe('reusePort', () => {
  it('gives each worker its own listening socket and counts the connections each accepted', async () => {
    const m = await master(2);
    await waitFor(() => listeningSockets(m.port) === 2, 'two listening sockets on the port');
    const load = new TrackedLoad(m.url, { keepAlive: 0, fresh: 4, slowMs: 0 });
    await load.flowing(400);
    await load.stop();
    await waitFor(
      async () => (await status(m.pidfile)).workers.reduce((n, w) => n + w.accepted, 0) >= 400,
      'the heartbeats to report the accepted connections',
    );
    const { workers } = await status(m.pidfile);
    assert.deepEqual(workers.map((w) => w.slot).sort(), [0, 1]);
    // the kernel hashes each new connection to one of the sockets: both get some
    for (const w of workers) assert.ok(w.accepted > 20, `worker ${w.pid} accepted ${w.accepted}`);
    assert.equal(load.failures.length, 0);
    m.proc.kill('SIGTERM');
    assert.equal((await m.proc.exit).code, 0);
  });

  it('loses no request across TTIN, TTOU, HUP, a SIGKILLed worker and USR2', async () => {
    const m = await master(2);
    const load = new TrackedLoad(m.url, { keepAlive: 6, fresh: 4, slowMs: 30 });
    await load.flowing(200);

    m.proc.kill('SIGTTIN');
    await waitFor(async () => (await readySlots(m.pidfile)).join() === '0,1,2', 'a third worker on slot 2', 15_000);
    await waitFor(() => listeningSockets(m.port) === 3, 'three listening sockets');
    await load.flowing(200);

    m.proc.kill('SIGTTOU');
    await waitFor(async () => (await status(m.pidfile)).workers.length === 2, 'the oldest worker gone', 15_000);
    // its slot's socket stays open and listening, served by a guest: nothing queued on it is reset
    assert.equal(listeningSockets(m.port), 3);
    await load.flowing(300);

    const before = new Set(workersOf(m.proc.pid));
    m.proc.kill('SIGHUP');
    await m.proc.line(/Reloaded: generation 2/, 20_000);
    await waitFor(() => workersOf(m.proc.pid).every((p) => !before.has(p)), 'the old generation gone', 20_000);
    await load.flowing(300);

    const victim = workersOf(m.proc.pid)[0]!;
    const killedAt = performance.now();
    process.kill(victim, 'SIGKILL');
    await waitFor(
      async () => (await readySlots(m.pidfile)).length === 2 && !workersOf(m.proc.pid).includes(victim),
      'a replacement',
    );
    await load.flowing(300);

    m.proc.kill('SIGUSR2');
    const child = await waitFor(() => readPid(`${m.pidfile}.2`), 'the new master', 15_000);
    track(child);
    await waitFor(() => workersOf(child).length === 2, "the new master's workers", 15_000);
    const fresh = new Set(workersOf(child));
    await waitFor(() => load.outcome.some((pid) => fresh.has(pid)), 'the new workers serve');
    m.proc.kill('SIGTERM');
    assert.equal((await m.proc.exit).code, 0);
    await load.flowing(300);
    // every slot socket went to the new master: still served after the old one left
    assert.equal(listeningSockets(m.port), 3);
    assert.equal((await request(`${m.url}/r?id=-1`)).status, 200);
    await load.stop();

    // the requests the SIGKILLed worker had accepted may fail; nothing else
    const byVictim = (f: Failure) =>
      f.headerPid === victim || f.socketPid === victim || (f.start <= killedAt && f.end >= killedAt);
    const excused = load.failures.filter(byVictim);
    const unexplained = load.failures.filter((f) => !byVictim(f));
    console.log(
      `# reusePort under load: ${load.ok} ok, ${excused.length} failed on the SIGKILLed worker, ${unexplained.length} other failures`,
    );
    assert.deepEqual(unexplained, []);
    process.kill(child, 'SIGTERM');
    await waitFor(() => !isRunning(child), 'the new master exits', 15_000);
  });
});
