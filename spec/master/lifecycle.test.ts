// The master's lifecycle in-process: the real Arbiter over fake workers
// (spec/support/fake-master.ts), signal sequences played through its queue,
// asserting the pool, the generations and the log lines.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { FakeMaster } from '../support/fake-master.js';
import { waitFor } from '../support/harness.js';

let master: FakeMaster | null = null;

async function started(opts: Parameters<typeof FakeMaster.create>[0] = {}): Promise<FakeMaster> {
  master = await FakeMaster.create(opts);
  await master.start();
  return master;
}

/** The generations `status` shows, as `number:role:workers`. */
const generations = (m: FakeMaster): string[] =>
  (m.status().generations ?? []).map((g) => `${g.generation}:${g.role}:${g.workers}`);

const reloaded = (m: FakeMaster, n: number) => m.logged(new RegExp(`Reloaded: generation ${n} serving`));

afterEach(async () => {
  await master?.close();
  master = null;
});

describe('the master in-process (fake workers)', { timeout: 30_000 }, () => {
  it('boots the first generation and serves it', async () => {
    const m = await started();
    assert.deepEqual(generations(m), ['1:serving:2']);
    assert.equal(m.status().state, 'running');
    assert.ok(m.log.includes('[INFO] Booted 2 worker(s), generation 1'), m.log.join('\n'));
  });

  it("a HUP's steps, in order: load, boot the candidate, only then drain the old generation", async () => {
    const m = await started();
    m.behaviour.ready = false;
    m.signal('SIGHUP');
    await waitFor(() => m.live(2).length === 2, 'two workers of generation 2 forked');
    assert.deepEqual(generations(m), ['1:serving:2', '2:booting:2']);
    assert.deepEqual(
      m.live(1).map((w) => w.signals),
      [[], []],
      'the old generation is untouched while the new one boots',
    );
    for (const w of m.live(2)) w.ready();
    await reloaded(m, 2);
    await waitFor(() => m.live(1).length === 0, 'the old generation gone');
    const steps = [
      /^\[INFO\] Handling signal: HUP, reloading/,
      /^fork \d+ generation 2/,
      /^message \d+ \{"type":"ready"\}/,
      /^signal \d+ SIGTERM/,
      /^\[INFO\] Reloaded: generation 2 serving with 2 worker\(s\)/,
    ];
    const at = steps.map((re) => m.timeline.findIndex((e, i) => re.test(e) && i > m.at(/master SIGHUP/)));
    assert.deepEqual(
      [...at].sort((a, b) => a - b),
      at,
      m.timeline.join('\n'),
    );
    // every ready of generation 2 came before the first TERM to generation 1
    const lastReady = m.timeline.findLastIndex((e) => /^message \d+ \{"type":"ready"\}/.test(e));
    assert.ok(lastReady < m.at(/^signal \d+ SIGTERM/), m.timeline.join('\n'));
    assert.deepEqual(generations(m), ['2:serving:2']);
    assert.equal(m.status().restarts, 0);
  });

  it('HUP during a rolling reload restarts the rollout from the newest release, within workers + surge', async () => {
    const m = await started({ config: { workers: 4, reloadSurge: 1 } });
    m.configure({ workers: 4, reloadSurge: 1, rawEnv: ['VERSION=2'] });
    m.behaviour.ready = false;
    m.signal('SIGHUP');
    await waitFor(() => m.live(2).length === 1, 'the first batch of generation 2');
    m.live(2)[0]!.ready();
    await waitFor(() => m.live(1).length === 3 && m.live(2).length === 2, 'an old worker drained, the next batch');
    // status shows the rollout: still reloading, the old generation serving beside the new one
    assert.equal(m.status().state, 'reloading');
    assert.deepEqual(generations(m), ['1:serving:3', '2:booting:2']);
    m.configure({ workers: 4, reloadSurge: 1, rawEnv: ['VERSION=3'] });
    m.behaviour.ready = true;
    m.advance(60_000); // the failed boots' backoff
    m.signal('SIGHUP');
    await m.logged(/reload abandoned after 1 of 4 batches \(1 of 4 workers\): superseded by a newer HUP/);
    await reloaded(m, 3);
    await waitFor(() => m.live().length === 4 && m.live(3).length === 4, 'four workers of generation 3');
    assert.ok(m.maxLive <= 5, `${m.maxLive} worker processes at once (workers + surge is 5)`);
    assert.ok(!m.log.some((l) => /Reloaded: generation 2/.test(l)), m.log.join('\n'));
    assert.deepEqual(generations(m), ['3:serving:4']);
    assert.ok(!m.log.some((l) => l.startsWith('[ERROR]')), m.log.join('\n'));
  });

  it('a rolling reload stops at a batch that fails to boot and restores the old generation to full size', async () => {
    const m = await started({ config: { workers: 4, reloadSurge: 2 } });
    // release 2 loads on the first batch (slots 0 and 1) and fails on the second
    m.bootFailure = (w) => (w.generation === 2 && w.slot >= 2 ? 'release 2 cannot start here' : null);
    m.configure({ workers: 4, reloadSurge: 2, rawEnv: ['RELEASE=2'] });
    m.signal('SIGHUP');
    await m.logged(/reload failed after/);
    const failed = m.log.find((l) => /reload failed after/.test(l))!;
    assert.match(
      failed,
      /^\[ERROR\] reload failed after 1 of 2 batches \(2 of 4 workers\), generation 1 is restored to full size: release 2 cannot start here/,
    );
    m.advance(1000); // past the crash backoff the failed workers started
    await waitFor(() => m.live().length === 4 && m.live(1).length === 4, 'four workers of generation 1 again');
    assert.ok(!m.log.some((l) => /Reloaded: generation/.test(l)), m.log.join('\n'));
    assert.deepEqual(generations(m), ['1:serving:4']);
    assert.equal(m.status().state, 'running');
  });

  it('WINCH during a rolling reload stops it and every worker at once; HUP brings them back', async () => {
    const m = await started({ config: { workers: 4, reloadSurge: 1 } });
    m.behaviour.ready = false;
    m.signal('SIGHUP');
    await waitFor(() => m.live(2).length === 1, 'the first batch of generation 2');
    m.live(2)[0]!.ready();
    await waitFor(() => m.live(2).length === 2, 'the second batch booting');
    m.signal('SIGWINCH');
    // without waiting for the rollout's remaining batches
    await m.logged(/reload failed after 1 of 4 batches \(1 of 4 workers\): interrupted by WINCH/);
    await waitFor(() => m.live().length === 0, 'every worker stopped');
    assert.equal(m.status().state, 'paused');
    assert.ok(!m.log.some((l) => /Reloaded: generation/.test(l)), m.log.join('\n'));
    m.behaviour.ready = true;
    m.advance(60_000); // the failed boots' backoff
    m.signal('SIGHUP');
    await m.logged(/Reloaded: generation \d+ serving with 4 worker/);
    await waitFor(() => m.live().length === 4, 'four workers');
    const { generation } = m.status();
    assert.deepEqual(generations(m), [`${generation}:serving:4`]);
    assert.equal(m.live(generation).length, 4);
    assert.equal(m.status().state, 'running');
  });

  it('WINCH stops every worker and keeps them stopped; HUP brings a new generation back', async () => {
    const m = await started();
    m.signal('SIGWINCH');
    await waitFor(() => m.live().length === 0, 'every worker stopped');
    assert.equal(m.status().state, 'paused');
    m.advance(60_000);
    await new Promise((r) => setTimeout(r, 300)); // a tick: a paused master spawns nothing
    assert.equal(m.workers.length, 2);
    m.signal('SIGHUP');
    await reloaded(m, 2);
    assert.equal(m.status().state, 'running');
    assert.deepEqual(generations(m), ['2:serving:2']);
  });

  it('TERM during the first boot fails the start: its workers are stopped, nothing is left', async () => {
    master = await FakeMaster.create({ behaviour: { ready: false, exitOnTerm: false } });
    const m = master;
    const starting = m.start();
    await waitFor(() => m.live(1).length === 2, 'two workers booting');
    m.signal('SIGTERM');
    await assert.rejects(starting, /interrupted by a stop signal/);
    await waitFor(() => m.live().length === 0, 'no worker left');
    for (const w of m.workers) assert.deepEqual(w.signals, ['SIGTERM', 'SIGKILL']);
    assert.ok(!m.log.some((l) => /Booted/.test(l)), m.log.join('\n'));
    m.remove(); // a master whose start failed does not run: its process exits
    master = null;
  });

  it('a HUP to an unloadable release while a worker is replaced keeps the running worker serving', async () => {
    // the first boot ends at its boot timeout with one worker of two ready; the HUP waits for it
    master = await FakeMaster.create({ config: { bootTimeout: 0.3 }, behaviour: { ready: false } });
    const m = master;
    const starting = m.start();
    await waitFor(() => m.live(1).length === 2, 'two workers booting');
    const [first, second] = m.live(1);
    first!.ready();
    m.bootFailure = (w) => (w.generation > 1 ? 'release broken on disk' : null);
    second!.exit(null, 'SIGKILL');
    m.advance(1000); // past the crash backoff, on the master's clock
    m.signal('SIGHUP');
    await starting;
    await m.logged(/reload failed, the running workers keep serving: .*release broken on disk/);
    assert.ok(m.log.includes('[INFO] Booted 1 of 2 worker(s), generation 1'), m.log.join('\n'));
    assert.ok(
      m.log.some((l) => l.includes(`Worker (pid: ${second!.pid}) was killed by SIGKILL before it was ready`)),
      m.log.join('\n'),
    );
    assert.equal(m.status().state, 'running');
    assert.ok(!first!.exited && first!.signals.length === 0, 'the running worker is left alone');
    assert.ok(m.status().workers.some((w) => w.pid === first!.pid && w.state === 'ready'));
    // the release fixed: a HUP brings a full generation at once (the crashed slot is in backoff)
    m.configure({ bootTimeout: 60 });
    m.bootFailure = () => null;
    m.behaviour.ready = true;
    m.advance(60_000); // the failed boots' backoff
    m.signal('SIGHUP');
    await m.logged(/Reloaded: generation \d+ serving with 2 worker/);
    await waitFor(() => m.live().length === 2 && first!.exited, 'the new generation alone');
    assert.equal(m.live()[0]!.generation, m.live()[1]!.generation);
    assert.notEqual(m.live()[0]!.generation, 1);
  });

  it('TTOU during a reload waits for it and applies to the generation it leaves serving', async () => {
    const m = await started({ config: { workers: 3 } });
    m.behaviour.ready = false;
    m.signal('SIGHUP');
    await waitFor(() => m.live(2).length === 3, 'generation 2 booting');
    m.signal('SIGTTOU');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!m.log.some((l) => /Number of workers/.test(l)), 'TTOU waits behind the reload');
    for (const w of m.live(2)) w.ready();
    await m.logged(/Number of workers: 3 -> 2/);
    await waitFor(() => m.live().length === 2, 'two workers');
    assert.deepEqual(generations(m), ['2:serving:2']);
    const first2 = m.workers.find((w) => w.generation === 2)!;
    assert.deepEqual(first2.signals, ['SIGTERM'], 'the oldest of generation 2 is stopped');
    assert.ok(m.at(/Reloaded: generation 2/) < m.at(/Number of workers: 3 -> 2/));
  });

  it('TTIN adds a worker, TTOU removes the oldest, never below one', async () => {
    const m = await started();
    m.signal('SIGTTIN');
    await waitFor(() => m.live().length === 3, 'three workers');
    const oldest = m.live()[0]!;
    m.signal('SIGTTOU');
    await waitFor(() => oldest.exited && m.live().length === 2, 'the oldest stopped');
    assert.deepEqual(oldest.signals, ['SIGTERM']);
    m.signal('SIGTTOU');
    await waitFor(() => m.live().length === 1, 'one worker');
    m.signal('SIGTTOU');
    await m.logged(/already at 1 worker/);
    assert.equal(m.live().length, 1);
    assert.deepEqual(generations(m), ['1:serving:1']);
  });

  it('a burst of 20 mixed TTIN/TTOU while workers are still booting arrives at the right count', async () => {
    const m = await started();
    m.behaviour.ready = false; // the new workers boot all through the burst
    // 13 TTIN and 7 TTOU from 2 workers, never touching the floor: ends at 8
    for (const c of 'IIOIIOIOIIOIIOIIOIOI') {
      m.signal(c === 'I' ? 'SIGTTIN' : 'SIGTTOU');
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => m.log.filter((l) => /Number of workers/.test(l)).length === 20, 'all 20 signals handled');
    assert.match(m.log.filter((l) => /Number of workers/.test(l)).at(-1)!, /-> 8$/);
    await waitFor(() => m.live().length === 8, 'eight workers');
    for (const w of m.live()) if (!m.status().workers.some((s) => s.pid === w.pid && s.state === 'ready')) w.ready();
    await waitFor(() => m.status().workers.filter((w) => w.state === 'ready').length === 8, 'eight ready');
    assert.deepEqual(generations(m), ['1:serving:8']);
  });

  it('a worker that dies while it drains is not a crash and is not replaced', async () => {
    const m = await started({ behaviour: { exitOnTerm: false } });
    m.signal('SIGHUP');
    await reloaded(m, 2);
    const [dying, slow] = m.live(1);
    assert.deepEqual(dying!.signals, ['SIGTERM']);
    dying!.exit(1);
    slow!.exit(0);
    await waitFor(() => m.live().length === 2, 'generation 2 alone');
    await new Promise((r) => setTimeout(r, 300)); // a tick
    assert.equal(m.workers.length, 4, 'nothing replaced the drained workers');
    assert.equal(m.status().restarts, 0);
    assert.ok(m.log.includes(`[INFO] Worker exiting (pid: ${dying!.pid}) exited with code 1`), m.log.join('\n'));
    assert.ok(!m.log.some((l) => l.startsWith('[ERROR]')), m.log.join('\n'));
  });
});

describe('a worker that stops unasked (fake workers)', { timeout: 30_000 }, () => {
  const TERMED = { type: 'retiring', reason: 'received TERM', signal: 'SIGTERM' };

  it('TERM from outside: it says so, its exit 0 is logged at INFO, not counted as a crash, refilled at once', async () => {
    const m = await started();
    const [w] = m.live(1);
    w!.tell(TERMED);
    w!.exit(0);
    await waitFor(() => m.live(1).length === 2 && m.workers.length === 3, 'a replacement');
    assert.ok(m.log.includes(`[INFO] Worker ${w!.pid} is retiring: received TERM`), m.log.join('\n'));
    assert.ok(m.log.includes(`[INFO] Worker exiting (pid: ${w!.pid})`), m.log.join('\n'));
    assert.ok(!m.log.some((l) => /^\[(ERROR|WARNING)\]/.test(l)), m.log.join('\n'));
    assert.equal(m.status().restarts, 0);
  });

  it('TERM from outside during the first boot: that worker never counts as ready, a replacement boots', async () => {
    master = await FakeMaster.create({ behaviour: { ready: false } });
    const m = master;
    const starting = m.start();
    await waitFor(() => m.live(1).length === 2, 'two workers booting');
    const [termed, other] = m.live(1);
    termed!.tell(TERMED);
    termed!.ready(); // too late: the master knows it drains
    termed!.exit(0);
    other!.ready();
    await waitFor(() => m.live(1).length === 2 && m.workers.length === 3, 'a replacement');
    assert.ok(!m.log.some((l) => /Booted/.test(l)), 'not booted with a draining worker');
    m.live(1).at(-1)!.ready();
    await starting;
    assert.ok(m.log.includes('[INFO] Booted 2 worker(s), generation 1'), m.log.join('\n'));
    assert.deepEqual(
      m.status().workers.map((w) => w.state),
      ['ready', 'ready'],
    );
    assert.ok(!m.log.some((l) => /^\[(ERROR|WARNING)\]/.test(l)), m.log.join('\n'));
  });

  it('an exit 0 it did not announce is unexpected: a WARNING, and counted', async () => {
    const m = await started();
    const [w] = m.live(1);
    m.advance(60_000); // it served a minute: no backoff
    w!.exit(0);
    await waitFor(() => m.workers.length === 3, 'a replacement');
    assert.ok(
      m.log.includes(`[WARNING] Worker (pid: ${w!.pid}) exited with code 0 without saying it would stop`),
      m.log.join('\n'),
    );
    assert.ok(!m.log.some((l) => l.startsWith('[ERROR]')), m.log.join('\n'));
    assert.equal(m.status().restarts, 1);
  });
});
