import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import {
  HELLO,
  childrenOf,
  cleanup,
  freePort,
  isRunning,
  request,
  run,
  startServer,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';
import { cli } from '../support/exec.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

async function status(args: string[]): Promise<StatusSnapshot> {
  const done = await cli(['status', ...args, '--json']);
  assert.equal(done.code, 0, done.stderr);
  return JSON.parse(done.stdout) as StatusSnapshot;
}

/** The CLI failed with exit 1 and one line on stderr matching `re`. */
async function failsWith(args: string[], re: RegExp, opts: Parameters<typeof cli>[1] = {}): Promise<void> {
  const done = await cli(args, opts);
  assert.equal(done.code, 1, `${args.join(' ')}: ${done.stdout}${done.stderr}`);
  assert.match(done.stderr, re);
  assert.equal(done.stderr.trimEnd().split('\n').length, 1, `one line: ${done.stderr}`);
}

const sorted = (pids: number[]) => [...pids].sort((a, b) => a - b);

describe('tsgund status', () => {
  it('shows the master and each worker, as a table and as JSON, following TTIN and HUP', async () => {
    const pidfile = join(dir(), 'app.pid');
    const { proc, url } = await startServer(['-w', '2', '-p', pidfile, '-n', 'shop']);
    let s = await status(['-p', pidfile]);
    assert.equal(s.pid, proc.pid);
    assert.equal(s.name, 'shop');
    assert.equal(s.generation, 1);
    assert.equal(s.state, 'running');
    assert.deepEqual(s.listeners, [url]);
    assert.deepEqual(sorted(s.workers.map((w) => w.pid)), childrenOf(proc.pid));
    assert.ok(s.workers.every((w) => w.state === 'ready' && w.generation === 1));

    for (let i = 0; i < 6; i++) assert.equal((await request(url + '/')).status, 200);
    // counts arrive with the workers' heartbeats
    s = await waitFor(async () => {
      const now = await status(['-p', pidfile]);
      const requests = now.workers.reduce((n, w) => n + w.requests, 0);
      const accepted = now.workers.reduce((n, w) => n + w.accepted, 0);
      const health = now.workers.every(
        (w) => w.runtime && w.runtime.heapUsed > 0 && w.runtime.heapLimit > w.runtime.heapUsed,
      );
      return requests >= 6 && accepted >= 6 && health && now.workers.every((w) => w.rss > 0) ? now : null;
    }, 'request and connection counts, RSS and runtime health in the status');

    const table = await cli(['status', '-p', pidfile]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^MASTER\s+NAME\s+APP\s+GEN\s+STATE\s+UPTIME\s+RSS MiB\s+WORKERS\s+RESTARTS\s+LAG p99 ms$/);
    assert.match(
      lines[1]!,
      new RegExp(
        `^${proc.pid}\\s+shop\\s+\\S+hello\\.js\\s+1\\s+running\\s+\\d+s\\s+[\\d.]+\\s+2/2\\s+0\\s+(-|[\\d.]+)$`,
      ),
    );
    assert.equal(lines[2], `listening on ${url}`);
    assert.match(lines[4]!, /^GEN\s+ROLE\s+WORKERS\s+SETTINGS\s+CONFIG\s+APP\s+CREATED$/);
    assert.match(lines[5]!, /^\s*1\s+serving\s+2\s+[0-9a-f]{12}\s+-\s+\S+hello\.js\s+\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.match(
      lines[7]!,
      /^WORKER\s+GEN\s+STATE\s+UPTIME\s+REQUESTS\s+ACCEPTED\s+RSS MiB\s+HEAP MiB\s+LAG p99 ms\s+ELU %$/,
    );
    for (const w of s.workers)
      assert.ok(
        lines.some((l) =>
          new RegExp(`^${w.pid}\\s+1\\s+ready\\s+\\d+s\\s+\\d+\\s+\\d+\\s+[\\d.]+\\s+[\\d.]+\\s+[\\d.]+\\s+\\d+$`).test(
            l,
          ),
        ),
        `row for ${w.pid}`,
      );

    proc.kill('SIGTTIN');
    await waitFor(
      async () => (await status(['-p', pidfile])).workers.filter((w) => w.state === 'ready').length === 3,
      '3 ready workers',
    );
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 20_000);
    s = await waitFor(async () => {
      const now = await status(['-p', pidfile]);
      return now.workers.length === 2 && now.workers.every((w) => w.generation === 2) ? now : null;
    }, 'only generation 2 left (HUP drops the TTIN)');
    assert.equal(s.generation, 2);
    assert.deepEqual(sorted(s.workers.map((w) => w.pid)), childrenOf(proc.pid));

    process.kill(s.workers[0]!.pid, 'SIGKILL');
    await waitFor(async () => (await status(['-p', pidfile])).restarts === 1, 'the restart counted');
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('the control socket is mode 0600, other users are refused, and it goes with the master', async () => {
    const d = dir();
    chmodSync(d, 0o755);
    const pidfile = join(d, 'app.pid');
    const { proc } = await startServer(['-w', '1', '-p', pidfile]);
    const sock = `${pidfile}.sock`;
    assert.ok(statSync(sock).isSocket());
    assert.equal(statSync(sock).mode & 0o777, 0o600);
    if (process.getuid?.() === 0) {
      await failsWith(['status', '-p', pidfile], /^tsgund: permission denied on control socket /, {
        uid: 65534,
        gid: 65534,
      });
    }
    proc.kill('SIGTERM');
    await proc.exit;
    assert.equal(existsSync(sock), false, 'socket removed at exit');
  });

  it('replaces the socket a killed master left; refuses a path that is not a socket', async () => {
    const d = dir();
    const pidfile = join(d, 'app.pid');
    const first = await startServer(['-w', '1', '-p', pidfile]);
    const workers = childrenOf(first.proc.pid);
    first.proc.kill('SIGKILL');
    await first.proc.exit;
    await waitFor(() => workers.every((w) => !isRunning(w)), 'orphaned workers gone');
    assert.ok(existsSync(`${pidfile}.sock`), 'a killed master leaves its socket');
    await failsWith(['status', '-p', pidfile], /^tsgund: pidfile .* names pid \d+, which is not running/);
    await failsWith(
      ['status', '--control-socket', `${pidfile}.sock`],
      /^tsgund: nothing answers on control socket .*: the master is not running/,
    );

    const second = await startServer(['-w', '1', '-p', pidfile]);
    assert.equal((await status(['-p', pidfile])).pid, second.proc.pid);
    second.proc.kill('SIGQUIT');
    await second.proc.exit;

    const taken = join(d, 'taken.sock');
    writeFileSync(taken, 'not a socket');
    const refused = run(['start', HELLO, '-w', '1', '-b', `127.0.0.1:${await freePort()}`, '--control-socket', taken]);
    assert.equal((await refused.exit).code, 1);
    assert.match(refused.output, /control socket .*taken\.sock exists and is not a socket/);
  });

  it('--control-socket names the socket; a missing pidfile or socket is a one-line error', async () => {
    const d = dir();
    const sock = join(d, 'ctl');
    const pidfile = join(d, 'app.pid');
    const { proc } = await startServer(['-w', '1', '-p', pidfile, '--control-socket', sock]);
    assert.equal((await status(['--control-socket', sock])).pid, proc.pid);
    assert.equal((await status(['-p', pidfile, '--control-socket', sock])).pid, proc.pid);
    await failsWith(
      ['status', '-p', pidfile],
      new RegExp(
        `^tsgund: master ${proc.pid} has no control socket at .*app\\.pid\\.sock: if it was started with --control-socket`,
      ),
    );
    await failsWith(['status'], /^tsgund: status needs a NAME, -p PIDFILE or --control-socket PATH\n$/);
    await failsWith(['status', '-p', join(d, 'none.pid')], /^tsgund: pidfile .*none\.pid does not exist/);
    await failsWith(['status', '--control-socket', join(d, 'none')], /^tsgund: control socket .*none does not exist/);
    proc.kill('SIGQUIT');
    await proc.exit;
    assert.equal(existsSync(sock), false);
  });

  it('follows a USR2 upgrade: <pidfile>.2.sock while both serve, then <pidfile>.sock', async () => {
    const pidfile = join(dir(), 'app.pid');
    const { proc } = await startServer(['-w', '1', '-p', pidfile]);
    proc.kill('SIGUSR2');
    const child = Number((await proc.line(/started new master \(pid (\d+)\)/))[1]);
    track(child);
    const upgraded = await waitFor(
      async () => {
        const s = await status(['-p', `${pidfile}.2`]);
        return s.workers.some((w) => w.state === 'ready') ? s : null;
      },
      'the new master answering on <pidfile>.2.sock',
      15_000,
    );
    assert.equal(upgraded.pid, child);
    assert.equal(upgraded.name, 'tsgund.2');
    assert.equal((await status(['-p', pidfile])).pid, proc.pid, 'the old master keeps its socket');
    proc.kill('SIGTERM');
    await proc.exit;
    const promoted = await waitFor(async () => {
      const s = await status(['-p', pidfile]);
      return s.pid === child && s.name === 'tsgund' ? s : null;
    }, 'the new master answering on <pidfile>.sock');
    assert.equal(promoted.pid, child);
    assert.equal(existsSync(`${pidfile}.2.sock`), false);
    process.kill(child, 'SIGTERM');
    await waitFor(() => !isRunning(child), 'new master exit');
    assert.equal(existsSync(`${pidfile}.sock`), false);
  });
});
