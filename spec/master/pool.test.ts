import assert from 'node:assert/strict';
import type { Worker as ClusterWorker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { HookRunner } from '../../lib/config/hooks.js';
import { defaults } from '../../lib/config/resolve.js';
import type { Settings } from '../../lib/config/types.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import { Generation, type GenerationState } from '../../lib/master/lifecycle/generation.js';
import { GenerationBoot } from '../../lib/master/lifecycle/generation-boot.js';
import { classifyExit, type ExitKind, Pool, type Targets, type Worker } from '../../lib/master/pool/pool.js';

const HOUR = 3_600_000;

/** A node:cluster worker as far as the pool and its handles use it; records the signals it gets. */
class FakeWorker extends EventEmitter {
  readonly signals: string[] = [];
  readonly process: { pid: number; kill: (sig: string) => boolean };
  constructor(
    readonly id: number,
    readonly gen: number,
    readonly slot: number,
  ) {
    super();
    this.process = { pid: 1000 + id, kill: (sig) => this.signals.push(sig) > 0 };
  }
  send(): boolean {
    return true;
  }
  isConnected(): boolean {
    return true;
  }
  exit(code: number | null, signal: string | null = null): void {
    this.emit('exit', code, signal);
  }
}

const log = Object.fromEntries(
  ['debug', 'info', 'warning', 'error', 'critical'].map((level) => [level, () => {}]),
) as unknown as ErrorLog;

function generation(number: number, overrides: Partial<Settings> = {}, state?: GenerationState): Generation {
  const settings = { ...defaults(), workers: 2, timeout: 30, bootTimeout: 60, ...overrides };
  const resolved = { settings, configPath: null, fileConfig: {} };
  return new Generation(number, resolved, HookRunner.from({}, settings, log), [], state);
}

/** A pool with a fake fork and a monotonic clock the test moves; `targets` is what the arbiter would say. */
function harness(targets: Targets) {
  const clock = { now: 5_000 };
  const forks: FakeWorker[] = [];
  const exits: ExitKind[] = [];
  let ids = 0;
  const pool = new Pool(
    async (gen, slot) => {
      const w = new FakeWorker(++ids, gen.number, slot);
      forks.push(w);
      return w as unknown as ClusterWorker;
    },
    () => clock.now,
    {
      log: () => log,
      targets: () => targets,
      stopping: () => false,
      restart: () => {},
      forked: () => {},
      exited: (_h, kind) => exits.push(kind),
    },
  );
  const handle = (w: FakeWorker): Worker => pool.workers.get(w.id)!;
  const ready = (w: FakeWorker) => handle(w).onMessage({ type: 'ready' });
  return { pool, clock, forks, exits, targets, handle, ready };
}

/** Let the fake forks (async, like preFork hooks) settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('classifyExit', () => {
  it('tells a crash, a timeout, a retirement and a stop apart', () => {
    const cases: [Parameters<typeof classifyExit>[0], boolean, ExitKind][] = [
      [{ stoppedBy: null, abortedAt: 0 }, false, 'crash'],
      [{ stoppedBy: null, abortedAt: 1234 }, false, 'timeout'],
      [{ stoppedBy: 'worker', abortedAt: 0 }, false, 'retired'],
      [{ stoppedBy: 'master', abortedAt: 0 }, false, 'stopped'],
      // a worker aborted for silence, then drained by a reload: stopped on purpose
      [{ stoppedBy: 'master', abortedAt: 1234 }, false, 'stopped'],
      // anything that exits while the master stops was stopped
      [{ stoppedBy: null, abortedAt: 0 }, true, 'stopped'],
      [{ stoppedBy: null, abortedAt: 1234 }, true, 'stopped'],
    ];
    for (const [h, stopping, kind] of cases) assert.equal(classifyExit(h, stopping), kind, JSON.stringify(h));
  });
});

describe('Pool (fake fork, injected monotonic clock)', () => {
  // Timers run on libuv's monotonic clock (mocked apart from Date: node:test's
  // Date mock would move them too); the wall clock is Date.now, stepped by `jump`.
  let wall = Date.parse('2026-06-01T12:00:00Z');
  const jump = (ms: number) => (wall += ms);
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
    mock.method(Date, 'now', () => wall);
  });
  afterEach(() => {
    mock.timers.reset();
    mock.restoreAll();
  });

  it('spawns what the serving generation lacks, once, counting forks under way', async () => {
    const gen = generation(1, { workers: 3 });
    const t = harness({ serving: gen, booting: null, mayStop: true });
    t.pool.manage();
    t.pool.manage(); // the forks are still under way: nothing more
    await settle();
    assert.equal(t.forks.length, 3);
    assert.deepEqual(
      t.forks.map((w) => w.slot),
      [0, 1, 2],
    );
    assert.equal(t.pool.of(gen).length, 3);
    t.pool.manage();
    await settle();
    assert.equal(t.forks.length, 3, 'nothing lacks');
  });

  it('is steady (the master may tick slowly) only with every worker ready and nothing to fix', async () => {
    const gen = generation(1, { workers: 2 });
    const t = harness({ serving: gen, booting: null, mayStop: true });
    assert.equal(t.pool.manage(), false, 'workers lack');
    assert.equal(t.pool.steady(), false, 'forks under way');
    await settle();
    assert.equal(t.pool.manage(), true);
    assert.equal(t.pool.steady(), false, 'workers booting');
    t.ready(t.forks[0]!);
    t.ready(t.forks[1]!);
    assert.equal(t.pool.steady(), true);
    t.handle(t.forks[0]!).abort();
    assert.equal(t.pool.steady(), false, 'a worker aborted');
    t.forks[0]!.exit(null, 'SIGABRT');
    assert.equal(t.pool.manage(), false, 'a worker lacks');
  });

  it("replaces a crashed worker with its own generation's settings while a candidate boots, in its slot", async () => {
    const gen1 = generation(1, { rawEnv: ['VERSION=1'] });
    const t = harness({ serving: gen1, booting: null, mayStop: true });
    t.pool.manage();
    await settle();
    for (const w of t.forks) t.ready(w);
    const state: GenerationState = { target: 2, cap: null, boot: null, appTls: false };
    const gen2 = generation(2, { rawEnv: ['VERSION=2'] }, state);
    state.boot = new GenerationBoot(2, gen2.settings, null, false, new AbortController().signal, () => {});
    void state.boot.done.catch(() => {});
    Object.assign(t.targets, { booting: gen2, mayStop: false });
    t.pool.manage();
    await settle();
    assert.deepEqual(
      t.forks.map((w) => w.gen),
      [1, 1, 2, 2],
    );
    t.clock.now += 60_000; // it served a minute: no backoff
    const victim = t.forks[1]!;
    victim.exit(null, 'SIGKILL');
    await settle();
    assert.deepEqual(t.exits, ['crash']);
    const replacement = t.forks[4]!;
    assert.equal(replacement.gen, 1, 'forked for generation 1');
    assert.equal(replacement.slot, victim.slot, 'in the slot it left');
    assert.deepEqual(t.handle(replacement).gen.settings.rawEnv, ['VERSION=1']);
    assert.equal(t.handle(replacement).gen, gen1);
  });

  it('waits for the crash backoff on the monotonic clock, whatever the wall clock does', async () => {
    const gen = generation(1, { workers: 1 });
    const t = harness({ serving: gen, booting: null, mayStop: true });
    t.pool.manage();
    await settle();
    t.forks[0]!.exit(1); // died before it was ready: 100 ms backoff
    await settle();
    assert.equal(t.forks.length, 1, 'no spawn before the backoff');
    jump(-HOUR); // the wall clock steps back an hour
    t.clock.now += 100;
    mock.timers.tick(100);
    await settle();
    assert.equal(t.forks.length, 2, 'the backoff ended after 100 ms, not an hour');
    t.forks[1]!.exit(1); // a second quick death: 200 ms
    await settle();
    jump(2 * HOUR); // and forward two hours: the backoff still holds
    t.pool.manage();
    await settle();
    assert.equal(t.forks.length, 2, 'a wall-clock jump forward skips no backoff');
    t.clock.now += 200;
    mock.timers.tick(200);
    await settle();
    assert.equal(t.forks.length, 3);
  });

  it('murders a worker silent for longer than its generation timeout, and only then', async () => {
    const gen = generation(1, { workers: 1, timeout: 30 });
    const t = harness({ serving: gen, booting: null, mayStop: true });
    t.pool.manage();
    await settle();
    const w = t.forks[0]!;
    t.ready(w);
    t.clock.now += 30_000;
    t.pool.murder();
    assert.deepEqual(w.signals, [], '30 s of silence is within the timeout');
    t.clock.now += 1;
    t.pool.murder();
    assert.deepEqual(w.signals, ['SIGABRT']);
    t.pool.murder();
    assert.deepEqual(w.signals, ['SIGABRT'], 'aborted once');
    mock.timers.tick(1000); // its handle's own SIGKILL after the abort grace
    assert.deepEqual(w.signals, ['SIGABRT', 'SIGKILL']);
    w.exit(null, 'SIGKILL');
    await settle();
    assert.deepEqual(t.exits, ['timeout']);
    assert.equal(t.pool.restarts, 1);
  });

  it('murders nothing when the wall clock jumps an hour either way', async () => {
    const gen = generation(1, { workers: 2, timeout: 5, bootTimeout: 10 });
    const t = harness({ serving: gen, booting: null, mayStop: true });
    t.pool.manage();
    await settle();
    t.ready(t.forks[0]!); // one serving, one still booting
    for (const step of [HOUR, -HOUR, -HOUR, HOUR]) {
      jump(step);
      t.clock.now += 1000;
      t.handle(t.forks[0]!).onMessage({ type: 'heartbeat', requests: 0, accepted: 0, rss: 1 });
      t.pool.murder();
    }
    assert.deepEqual(
      t.forks.map((w) => w.signals),
      [[], []],
    );
    assert.equal(t.handle(t.forks[0]!).uptimeMs, 4000, 'uptime follows the monotonic clock');
    t.clock.now += 6001; // the booting one has been silent for 10 s + 1 ms
    t.pool.murder();
    assert.deepEqual(
      t.forks.map((w) => w.signals),
      [['SIGABRT'], ['SIGABRT']],
    );
  });

  it('a drained generation exits as stopped, a retiring worker as retired: neither counts as a restart', async () => {
    const gen = generation(1, { workers: 2 });
    const t = harness({ serving: gen, booting: null, mayStop: true });
    t.pool.manage();
    await settle();
    for (const w of t.forks) t.ready(w);
    t.pool.retiring(t.handle(t.forks[0]!), 'max-requests reached');
    await settle();
    assert.equal(t.forks.length, 3, 'a retiring worker is replaced while it drains');
    t.forks[0]!.exit(0);
    const [oldest] = t.pool.live(gen);
    assert.equal(oldest?.pid, t.forks[1]!.process.pid, 'the oldest live one');
    oldest.term();
    assert.deepEqual(t.forks[1]!.signals, ['SIGTERM'], 'drained with TERM, never QUIT');
    t.forks[1]!.exit(0);
    await settle();
    assert.deepEqual(t.exits, ['retired', 'stopped']);
    assert.equal(t.pool.restarts, 0);
  });

  it('drains a worker whose fork ends after its generation stopped serving', async () => {
    const gen1 = generation(1, { workers: 1 });
    const t = harness({ serving: gen1, booting: null, mayStop: true });
    t.pool.manage(); // the fork is under way (its preFork hook runs) ...
    const gen2 = generation(2, { workers: 1 });
    Object.assign(t.targets, { serving: gen2 }); // ... when a reload takes over
    await settle();
    const late = t.forks.find((w) => w.gen === 1)!;
    assert.deepEqual(late.signals, ['SIGTERM']);
    assert.equal(t.handle(late).retiring, true);
  });
});
