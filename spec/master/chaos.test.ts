// Chaos in-process: the real master over fake workers gets a seeded random
// sequence of operator actions and worker faults (HUP with a config edit, a
// HUP whose release fails to boot, two HUPs back to back, TTIN, TTOU, WINCH
// then HUP, a worker SIGKILLed, a worker TERMed from outside, a worker that
// exits 0 unasked). After every step the pool must settle to what should be:
// one serving generation, the expected number of its workers alive, nothing
// left of older generations, the master running. The end-to-end chaos test
// (spec/e2e/chaos.test.ts) plays the same kinds of steps against real
// processes under load, for fewer steps; this one plays many in a second or two.
//
//   MASTER_CHAOS_SEED=1234 node --test dist/spec/master/chaos.test.js   # replay a run
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Rng, intFrom, seedFrom } from '../support/chaos.js';
import { FakeMaster } from '../support/fake-master.js';
import { waitFor } from '../support/harness.js';

const SEED = seedFrom('MASTER_CHAOS_SEED');
const STEPS = intFrom('MASTER_CHAOS_STEPS', 60);
const TERMED = { type: 'retiring', reason: 'received TERM', signal: 'SIGTERM' };
/**
 * The fake workers send no heartbeats, and settling moves the clock on (past
 * crash backoffs): a day's timeout keeps a missed beat out of this test.
 */
const QUIET = { timeout: 86_400 };

const KINDS = ['HUP', 'HUP-config', 'HUP-broken', 'HUP-twice', 'TTIN', 'TTOU', 'WINCH-HUP', 'KILL', 'TERM', 'EXIT0'];
type Kind = (typeof KINDS)[number];

let master: FakeMaster | null = null;
after(async () => {
  await master?.close();
});

/** What the pool should come to after the steps so far. */
interface Expected {
  /** Workers of the config file (a HUP resets the count to it). */
  configured: number;
  target: number;
  /** The serving generation is at least this one (a HUP that succeeds makes a newer one). */
  generation: number;
}

/** Wait until the pool is what it should be: one serving generation of `target` workers, nothing else alive. */
async function settled(m: FakeMaster, want: Expected, step: string): Promise<void> {
  await waitFor(
    () => {
      m.advance(5_000); // past any crash backoff, a little at a time
      const s = m.status();
      const gens = s.generations ?? [];
      return (
        s.state === 'running' &&
        s.generation >= want.generation &&
        gens.length === 1 &&
        gens[0]!.role === 'serving' &&
        m.live().length === want.target &&
        m.live(s.generation).length === want.target &&
        s.workers.filter((w) => w.state === 'ready').length === want.target
      );
    },
    () =>
      `after ${step} (replay: MASTER_CHAOS_SEED=${SEED}): ${want.target} ready workers of one serving generation; ` +
      `status ${JSON.stringify({ state: m.status().state, generations: m.status().generations, live: m.live().map((w) => `${w.pid}@${w.generation}`) })}\n${m.log.slice(-30).join('\n')}`,
    10_000,
    5,
  );
}

/** Play one step, and note in `want` what the pool should come to. */
async function play(m: FakeMaster, kind: Kind, rng: Rng, want: Expected): Promise<void> {
  const victim = () => rng.pick(m.live());
  const newer = () => {
    want.generation = m.status().generation + 1;
    want.target = want.configured;
  };
  switch (kind) {
    case 'HUP':
      newer();
      m.signal('SIGHUP');
      return;
    case 'HUP-config':
      want.configured = rng.int(1, 4);
      m.configure({ ...QUIET, workers: want.configured, rawEnv: [`STEP=${rng.int(0, 1e6)}`] });
      newer();
      m.signal('SIGHUP');
      return;
    case 'HUP-broken': {
      const generations = m.workers.length;
      m.bootFailure = (w) => (m.workers.indexOf(w) >= generations ? 'this release cannot start' : null);
      const failures = m.log.length;
      m.signal('SIGHUP');
      await waitFor(
        () => m.log.slice(failures).some((l) => /reload failed/.test(l)),
        () => `the broken release refused (replay: MASTER_CHAOS_SEED=${SEED})\n${m.log.slice(-20).join('\n')}`,
      );
      m.bootFailure = () => null;
      return; // the running generation keeps serving, at its size
    }
    case 'HUP-twice':
      newer();
      m.signal('SIGHUP');
      m.signal('SIGHUP');
      return;
    case 'TTIN':
      if (want.target >= 5) return;
      m.signal('SIGTTIN');
      want.target++;
      return;
    case 'TTOU':
      if (want.target <= 1) return;
      m.signal('SIGTTOU');
      want.target--;
      return;
    case 'WINCH-HUP':
      m.signal('SIGWINCH');
      await waitFor(() => m.live().length === 0 && m.status().state === 'paused', 'every worker stopped');
      newer();
      m.signal('SIGHUP');
      return;
    case 'KILL':
      victim().exit(null, 'SIGKILL');
      return;
    case 'TERM': {
      const w = victim();
      w.tell(TERMED);
      w.exit(0);
      return;
    }
    case 'EXIT0':
      victim().exit(0);
      return;
  }
}

describe('the master in-process under seeded chaos (fake workers)', { timeout: 60_000 }, () => {
  it(`${STEPS} random operator actions and worker faults each settle to one generation of the expected size (seed ${SEED})`, async (t) => {
    const rng = new Rng(SEED);
    const want: Expected = { configured: 2, target: 2, generation: 1 };
    master = await FakeMaster.create({ config: QUIET });
    const m = master;
    await m.start();
    const steps: string[] = [];
    for (let i = 0; i < STEPS; i++) {
      const kind = rng.pick(KINDS);
      steps.push(kind);
      await play(m, kind, rng, want);
      await settled(m, want, `step ${i + 1}, ${kind} (steps: ${steps.join(' ')})`);
    }
    t.diagnostic(`seed ${SEED}: ${steps.join(' ')}`);
    // the master never lost track of a worker: every fake that is not alive has exited
    assert.equal(m.live().length, want.target);
    assert.ok(!m.log.some((l) => /^\[CRITICAL\]/.test(l)), m.log.join('\n'));
  });
});
