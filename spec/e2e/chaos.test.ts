// Chaos: a daemonized master under continuous load gets a seeded random
// sequence of operator actions for a time budget (CHAOS_SECONDS, default 12):
// HUP; HUP after a config edit (the worker count, an environment variable the
// app reports in X-Version); TTIN; TTOU; USR1 (after a logrotate-style rename
// of the access log); TERM of a worker (it drains, the master replaces it);
// SIGKILL of a worker; WINCH (the workers stop, the master keeps the sockets)
// held for a while, then HUP; USR2 upgrade + promotion (WINCH old, TERM old);
// HUP with a broken config file (then restored) and OVERLAP (a second signal
// while the master is handling a first one). After every step, once settled:
// the master named by the pidfile is alive and has the expected number of
// workers (TTIN/TTOU counted, reset to the config file's on HUP and upgrade),
// every answer carries the configured X-Version, no <pidfile>.2, no other
// process of this run is left (found by an environment marker every
// descendant inherits, or the temp dir in its command line: other tsgund
// processes on the machine are not ours to judge), and no request failed
// except on a SIGKILLed worker's connections. While WINCH has stopped the
// workers nothing is answered and nothing fails: connections wait in the
// listen backlog and are served once HUP has brought workers back. At the end,
// after TERM, the access log files hold exactly one line for every answered
// request, SIGKILLed workers included (a line is written before the
// response's last bytes leave), and nothing else but the requests whose
// failure a SIGKILL explains (killed after its line, before its last bytes).
//
// Failures and SIGKILL: a failure is put down to a SIGKILL only if (a) the
// response headers (X-Pid) came from the killed worker, or (b) it happened on
// a keep-alive connection that the killed worker had answered on, or (c) with
// no worker known (a new connection, no headers yet), it was a connection
// error of a request in flight at the kill (started < 100 ms after it, failed
// < 5 s after it). (c) is a time window; it is sound here because every step
// waits until the previous one has settled (old workers gone), so nothing else
// is going on around a kill, and it is counted separately. Any other failure
// fails the test.
//
//   node --test dist/spec/e2e/chaos.test.js                        # CI: steps for 12 s
//   CHAOS_SECONDS=600 node --test dist/spec/e2e/chaos.test.js      # long form
//   CHAOS_SEED=1234 CHAOS_STEPS=40 node --test dist/spec/e2e/chaos.test.js   # replay a run
//
// The seed is printed at the start, the replay line (seed and the number of
// steps taken) at the end and in any failure message: the same seed gives the
// same sequence of steps and choices, and CHAOS_STEPS runs exactly that many
// steps whatever the time. The same kinds of steps, many more of them, are
// played in-process against fake workers by spec/master/chaos.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, cmdline, freePort, isRunning, run, tempDir, track, waitFor, workersOf } from '../support/harness.js';
import { CHAOS_APP, TrackedLoad, type Failure } from '../support/chaos-load.js';
import { Rng, ageMs, intFrom, processesOf, readAccessLogs, seedFrom } from '../support/chaos.js';

const SEED = seedFrom('CHAOS_SEED');
/** exactly this many steps when set; otherwise steps until the time budget is spent */
const STEPS = process.env.CHAOS_STEPS ? intFrom('CHAOS_STEPS', 1) : null;
const SECONDS = intFrom('CHAOS_SECONDS', 12);
const MAX_WORKERS = 4;
const SETTLE_MS = 20_000;
const SLOW_STEP_MS = 3000;
const VICTIM_AGE_MS = 2000;

const KINDS = [
  'HUP',
  'CONFIG',
  'TTIN',
  'TTOU',
  'USR1',
  'TERM',
  'KILL',
  'WINCH',
  'UPGRADE',
  'BADHUP',
  'OVERLAP',
] as const;
type Kind = (typeof KINDS)[number];
const WEIGHTS: Record<Kind, number> = {
  HUP: 2,
  CONFIG: 2,
  TTIN: 2,
  TTOU: 2,
  USR1: 2,
  TERM: 2,
  KILL: 2,
  WINCH: 1,
  UPGRADE: 1,
  BADHUP: 1,
  OVERLAP: 2,
};

/**
 * OVERLAP: a second signal sent as soon as the master has started handling the
 * first (a TTIN/TTOU queued behind a reload, or a HUP while the worker a TTIN
 * asked for is still booting). Not sent together: pending signals are delivered
 * lowest number first, whatever the order they were sent in.
 */
const OVERLAPS = [
  ['HUP', 'TTIN'],
  ['HUP', 'TTOU'],
  ['TTIN', 'HUP'],
  ['TTOU', 'HUP'],
] as const;

/** Every kind once in a shuffled first round, then weighted at random. */
function planner(rng: Rng): (step: number) => Kind {
  const first = rng.shuffle([...KINDS]);
  return (step) => first[step - 1] ?? rng.weighted(WEIGHTS);
}

/** Broken config files for BADHUP, each with what the master must log about it. */
const BAD_CONFIGS: Array<{ name: string; text: (good: object) => string; expect: RegExp }> = [
  { name: 'JSON syntax error', text: (g) => JSON.stringify(g).replace(/}$/, ',,}'), expect: /cannot load config file/ },
  {
    name: 'workers: "many"',
    text: (g) => JSON.stringify({ ...g, workers: 'many' }),
    expect: /setting 'workers' is "many"/,
  },
  { name: 'workers: 0', text: (g) => JSON.stringify({ ...g, workers: 0 }), expect: /setting 'workers' is 0/ },
  { name: 'unknown key', text: (g) => JSON.stringify({ ...g, wokers: 3 }), expect: /unknown setting 'wokers'/ },
  { name: 'bad bind', text: (g) => JSON.stringify({ ...g, bind: '127.0.0.1:99999' }), expect: /port above 65535/ },
  { name: 'not an object', text: () => '[1, 2, 3]', expect: /must export an object/ },
];

const CONNECTION_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'aborted', 'socket hang up']);

interface Kill {
  pid: number;
  t: number;
  step: number;
  precise: number;
  inFlight: number;
}

const readPid = (file: string): number => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const size = (file: string): number => (existsSync(file) ? statSync(file).size : -1);

let load: TrackedLoad | null = null;
const dirs: string[] = [];
/** marker in the environment of every process of this run: [marker, dir] */
let mine: [string, string] | null = null;
after(async () => {
  await load?.stop();
  // whatever a failed run left (an upgraded master not tracked yet, its workers): all started by this file
  if (mine)
    for (const p of processesOf(...mine))
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  await cleanup(dirs);
});

describe('chaos', () => {
  const budget = STEPS === null ? `${SECONDS} s` : `${STEPS} steps`;
  it(`survives seeded random operator actions under load for ${budget} (seed ${SEED})`, {
    timeout: 120_000 + (STEPS === null ? SECONDS * 1000 : STEPS * 30_000),
  }, async () => {
    console.log(`# chaos seed ${SEED}, ${budget}`);
    const rng = new Rng(SEED);
    const dir = tempDir('tsgund-chaos-');
    dirs.push(dir);
    const markerName = 'TSGUND_CHAOS_RUN';
    const marker = `${markerName}=${basename(dir)}`;
    mine = [marker, dir];
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const app = join(dir, 'app.js');
    writeFileSync(app, CHAOS_APP);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const pidfile = join(dir, 'app.pid');
    const accessLog = join(dir, 'access.log');
    const errorLog = join(dir, 'error.log');
    const configFile = join(dir, 'tsgund.config.json');
    const good = {
      workers: 2,
      bind: `127.0.0.1:${port}`,
      accesslog: accessLog,
      accessLogFormat: '%(U)s?%(q)s %(s)s %(p)s',
      errorlog: errorLog,
      gracefulTimeout: 10,
      rawEnv: ['CHAOS_VERSION=1'],
    };
    let version = 1;
    const writeGood = () => writeFileSync(configFile, JSON.stringify(good, null, 2) + '\n');
    writeGood();

    const logLines = (): string[] => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8').split('\n') : []);
    const countLog = (pid: number, re: RegExp): number =>
      logLines().filter((l) => l.includes(`] [${pid}] [`) && re.test(l)).length;
    const lastLog = (pid: number, re: RegExp): string =>
      logLines()
        .filter((l) => l.includes(`] [${pid}] [`) && re.test(l))
        .at(-1) ?? '';
    const tail = (n = 40) => logLines().slice(-n).join('\n');

    const start = run(['start', app, '-D', '-p', pidfile, '-c', configFile], {
      cwd: dir,
      env: { [markerName]: basename(dir) },
    });
    assert.equal((await start.exit).code, 0, start.output);
    let master = readPid(pidfile);
    track(master);
    let expected = good.workers;
    const kills: Kill[] = [];
    const counts: Record<string, number> = {};
    let rotations = 0;
    let failuresSeen = 0;
    let stepNo = 0;
    let taken = 0;
    const replay = () => `CHAOS_SEED=${SEED} CHAOS_STEPS=${taken} node --test dist/spec/e2e/chaos.test.js`;
    let stepName = 'start';

    load = new TrackedLoad(url, { keepAlive: 6, fresh: 3, slowMs: 40 });
    await load.flowing(100);

    /** A failure caused by a SIGKILLed worker, and how we know; null when nothing explains it. */
    const explain = (f: Failure): { kill: Kill; precise: boolean } | null => {
      for (const k of kills) {
        // the response headers came from the killed worker, then the body was cut off
        if (f.headerPid === k.pid) return { kill: k, precise: true };
        // a keep-alive connection the killed worker had answered on before
        if (f.headerPid === null && f.socketPid === k.pid) return { kill: k, precise: true };
      }
      if (f.headerPid !== null || f.socketPid !== null || !CONNECTION_ERRORS.has(f.why)) return null;
      // Nothing is known about the worker (a new connection, or the first request
      // on one): attribute it only if it was in flight when a worker was killed.
      for (const k of kills)
        if (f.start <= k.t + 100 && f.end >= k.t && f.end <= k.t + 5000) return { kill: k, precise: false };
      return null;
    };

    const checkFailures = () => {
      const fresh = load!.failures.slice(failuresSeen);
      failuresSeen = load!.failures.length;
      const unexplained: string[] = [];
      for (const f of fresh) {
        const why = explain(f);
        if (!why)
          unexplained.push(
            `request ${f.id} (${f.kind}, ${f.why}, header pid ${f.headerPid}, connection pid ${f.socketPid}, ${Math.round(f.end - f.start)} ms)`,
          );
        else if (why.precise) why.kill.precise++;
        else why.kill.inFlight++;
      }
      assert.deepEqual(unexplained, [], `${unexplained.length} failed request(s) not explained by a SIGKILL`);
    };

    const orphans = () => {
      const mine = new Set([master, ...workersOf(master)]);
      return processesOf(marker, dir).filter((p) => !mine.has(p.pid));
    };

    const checkInvariants = async () => {
      assert.equal(readPid(pidfile), master, 'the pidfile names the current master');
      assert.ok(isRunning(master), `master ${master} is running`);
      assert.equal(existsSync(pidfile + '.2'), false, 'no <pidfile>.2 outside an upgrade');
      assert.match(cmdline(master), /^tsgund: master \[/, 'the master is named tsgund (no .2)');
      await waitFor(
        () => workersOf(master).length === expected,
        `${expected} workers (have ${workersOf(master).join(', ')})`,
        SETTLE_MS,
      );
      await waitFor(() => orphans().length === 0, `no stray processes: ${JSON.stringify(orphans())}`, SETTLE_MS);
      // the old workers are gone; let answers they sent before they went be read, then count afresh
      load!.markVersions();
      await load!.flowing(5);
      load!.markVersions();
      await load!.flowing(20);
      assert.deepEqual([...load!.versions.keys()], [String(version)], 'every answer comes from the configured app env');
      checkFailures();
    };

    const handled = (sig: 'HUP' | 'TTIN' | 'TTOU') =>
      sig === 'HUP' ? /Handling signal: HUP/ : /Number of workers: \d+ -> \d+|already at 1 worker/;
    /** HUP, and wait until the new generation took over; it must not fail. */
    const reload = async (): Promise<void> => {
      const before = countLog(master, /Reloaded: generation/);
      const failed = countLog(master, /reload (failed|abandoned)/);
      process.kill(master, 'SIGHUP');
      await waitFor(
        () =>
          countLog(master, /Reloaded: generation/) > before || countLog(master, /reload (failed|abandoned)/) > failed,
        'Reloaded: generation N',
        SETTLE_MS,
      );
      assert.equal(countLog(master, /reload (failed|abandoned)/), failed, lastLog(master, /reload/));
      expected = good.workers;
    };
    /**
     * A worker to TERM or SIGKILL, once it has run for VICTIM_AGE_MS: the master
     * counts a worker that stops within a second of being ready as a crash and
     * backs off (up to 10 s) before the next; kills of fresh workers in a row
     * would spend the run waiting.
     */
    const victimOf = async (pid: number): Promise<number> => {
      const workers = workersOf(pid);
      const victim = workers[rng.int(0, workers.length - 1)]!;
      await waitFor(() => ageMs(victim) >= VICTIM_AGE_MS, `worker ${victim} to run for a while`, SETTLE_MS);
      return victim;
    };
    const steps: Record<Kind, () => Promise<string>> = {
      HUP: async () => {
        await reload();
        return `HUP -> ${expected} workers`;
      },
      CONFIG: async () => {
        const edits: string[] = [];
        const what = rng.pick(['workers', 'env', 'both'] as const);
        if (what !== 'env') {
          good.workers = rng.int(1, 3);
          edits.push(`workers: ${good.workers}`);
        }
        if (what !== 'workers') {
          good.rawEnv = [`CHAOS_VERSION=${++version}`];
          edits.push(`CHAOS_VERSION=${version}`);
        }
        writeGood();
        await reload();
        return `HUP after a config edit (${edits.join(', ')}) -> ${expected} workers`;
      },
      TTIN: async () => {
        if (expected >= MAX_WORKERS) return steps.TTOU();
        process.kill(master, 'SIGTTIN');
        expected++;
        return `TTIN -> ${expected} workers`;
      },
      TTOU: async () => {
        if (expected === 1) {
          const before = countLog(master, /already at 1 worker/);
          process.kill(master, 'SIGTTOU');
          await waitFor(() => countLog(master, /already at 1 worker/) > before, 'TTOU refused at 1 worker', SETTLE_MS);
          return 'TTOU at 1 worker (refused)';
        }
        process.kill(master, 'SIGTTOU');
        expected--;
        return `TTOU -> ${expected} workers`;
      },
      USR1: async () => {
        // logrotate without copytruncate: access.log.N -> N+1, access.log -> .1, then USR1
        for (let i = rotations; i >= 1; i--) renameSync(`${accessLog}.${i}`, `${accessLog}.${i + 1}`);
        renameSync(accessLog, `${accessLog}.1`);
        rotations++;
        const before = countLog(master, /Handling signal: USR1/);
        process.kill(master, 'SIGUSR1');
        await waitFor(() => countLog(master, /Handling signal: USR1/) > before, 'the master handles USR1', SETTLE_MS);
        await waitFor(() => size(accessLog) > 0, 'lines in the new access.log', SETTLE_MS);
        // every worker has reopened when the rotated file stops growing while the new one grows
        await waitFor(
          async () => {
            const [old, now] = [size(`${accessLog}.1`), size(accessLog)];
            await sleep(300);
            return size(`${accessLog}.1`) === old && size(accessLog) > now;
          },
          'access.log.1 to stop growing',
          SETTLE_MS,
          0,
        );
        return `USR1 after rotation ${rotations}`;
      },
      KILL: async () => {
        const victim = await victimOf(master);
        kills.push({ pid: victim, t: performance.now(), step: stepNo, precise: 0, inFlight: 0 });
        process.kill(victim, 'SIGKILL');
        await waitFor(() => !isRunning(victim), `worker ${victim} to die`);
        return `SIGKILL worker ${victim}`;
      },
      TERM: async () => {
        const victim = await victimOf(master);
        process.kill(victim, 'SIGTERM');
        await waitFor(() => !isRunning(victim), `worker ${victim} to drain and exit after TERM`, SETTLE_MS);
        return `TERM worker ${victim}`;
      },
      WINCH: async () => {
        const before = countLog(master, /Stopping all workers/);
        process.kill(master, 'SIGWINCH');
        await waitFor(() => countLog(master, /Stopping all workers/) > before, 'the master to handle WINCH', SETTLE_MS);
        await waitFor(() => workersOf(master).length === 0, 'every worker to stop after WINCH', SETTLE_MS);
        // paused: the sockets stay open, so requests wait in the backlog; none is answered, none fails
        const pauseMs = rng.int(300, 1500);
        await sleep(100); // answers the workers sent before they went are read first
        const [ok, failed] = [load!.ok, load!.failures.length];
        await sleep(pauseMs - 100);
        assert.equal(load!.ok, ok, 'nothing is answered while WINCH has stopped the workers');
        assert.equal(load!.failures.length, failed, 'nothing fails while WINCH has stopped the workers');
        const waiting = load!.inFlight();
        assert.ok(waiting.length > 0, 'requests wait while the workers are stopped');
        await reload();
        await waitFor(
          () => waiting.every((id) => load!.outcome[id] !== 0),
          'the waiting requests to finish',
          SETTLE_MS,
        );
        assert.deepEqual(
          waiting.filter((id) => load!.outcome[id]! < 0),
          [],
          'the requests that waited in the backlog are answered after HUP',
        );
        return `WINCH, paused ${pauseMs} ms (${waiting.length} requests waiting), HUP -> ${expected} workers`;
      },
      UPGRADE: async () => {
        const old = master;
        process.kill(old, 'SIGUSR2');
        const child = await waitFor(() => readPid(pidfile + '.2'), '<pidfile>.2 of the new master', SETTLE_MS);
        track(child);
        await waitFor(
          () => workersOf(child).length === good.workers,
          `the new master's ${good.workers} workers`,
          SETTLE_MS,
        );
        assert.match(cmdline(child), /^tsgund\.2: master \[/);
        await load!.flowing(20);
        process.kill(old, 'SIGWINCH');
        await waitFor(() => workersOf(old).length === 0, 'the old workers to stop after WINCH', SETTLE_MS);
        await load!.flowing(20);
        process.kill(old, 'SIGTERM');
        await waitFor(() => !isRunning(old), 'the old master to exit after TERM', SETTLE_MS);
        await waitFor(
          () => readPid(pidfile) === child && !existsSync(pidfile + '.2'),
          'the pidfile promoted',
          SETTLE_MS,
        );
        await waitFor(() => /^tsgund: master \[/.test(cmdline(child)), 'the new master to drop .2', SETTLE_MS);
        master = child;
        expected = good.workers;
        return `USR2 + WINCH + TERM: master ${old} -> ${child}, ${expected} workers`;
      },
      BADHUP: async () => {
        const bad = rng.pick(BAD_CONFIGS);
        writeFileSync(configFile, bad.text(good));
        const before = countLog(master, /reload failed/);
        process.kill(master, 'SIGHUP');
        try {
          await waitFor(() => countLog(master, /reload failed/) > before, 'reload failed', SETTLE_MS);
        } finally {
          writeGood();
        }
        assert.match(lastLog(master, /reload failed/), bad.expect);
        return `HUP with a broken config (${bad.name}), restored`;
      },
      OVERLAP: async () => {
        const pair = rng.pick(OVERLAPS);
        const reloads = countLog(master, /Reloaded: generation/);
        const failed = countLog(master, /reload (failed|abandoned)/);
        for (const [i, sig] of pair.entries()) {
          const before = countLog(master, handled(sig));
          process.kill(master, `SIG${sig}`);
          if (sig === 'HUP') expected = good.workers;
          else if (sig === 'TTIN') expected++;
          else expected = Math.max(1, expected - 1);
          if (i === 0)
            await waitFor(
              () => countLog(master, handled(sig)) > before,
              `the master to start handling ${sig}`,
              SETTLE_MS,
              5,
            );
        }
        await waitFor(
          () =>
            countLog(master, /Reloaded: generation/) > reloads ||
            countLog(master, /reload (failed|abandoned)/) > failed,
          'Reloaded: generation N',
          SETTLE_MS,
        );
        assert.equal(countLog(master, /reload (failed|abandoned)/), failed, lastLog(master, /reload/));
        return `${pair.join(' then ')} while the first is handled -> ${expected} workers`;
      },
    };

    const next = planner(rng);
    const loadStart = performance.now();
    const more = () => (STEPS === null ? performance.now() - loadStart < SECONDS * 1000 : taken < STEPS);
    try {
      await checkInvariants();
      for (stepNo = 1; more(); stepNo++) {
        const kind = next(stepNo);
        stepName = kind;
        taken = stepNo;
        const [t0, logAt] = [Date.now(), logLines().length];
        const what = await steps[kind]();
        await checkInvariants();
        counts[kind] = (counts[kind] ?? 0) + 1;
        const ms = Date.now() - t0;
        console.log(`# step ${stepNo}: ${what}; settled in ${ms} ms; ${load.ok} ok so far`);
        // what took a step long (a crash backoff, a slow drain) is in the error log
        if (ms > SLOW_STEP_MS) console.log(logLines().slice(logAt, -1).join('\n').replace(/^/gm, '#   '));
        await sleep(rng.int(0, 300));
      }
      const loadSeconds = ((performance.now() - loadStart) / 1000).toFixed(1);
      stepName = 'final stop';
      await load.stop();
      checkFailures();
      process.kill(master, 'SIGTERM');
      await waitFor(() => !isRunning(master), 'the master to exit after TERM', SETTLE_MS);
      assert.equal(existsSync(pidfile), false, 'pidfile removed at exit');
      await waitFor(
        () => processesOf(marker, dir).length === 0,
        `nothing left running: ${JSON.stringify(processesOf(marker, dir))}`,
        SETTLE_MS,
      );

      stepName = 'access log check';
      const { entries, junk, files } = readAccessLogs(dir);
      assert.deepEqual(junk, [], 'only request lines, each complete');
      // Exactly one line per answered request; besides those, only requests a SIGKILL cut off
      // after the worker had written their line (a failure already put down to that kill).
      const killed = new Set(kills.map((k) => k.pid));
      const seen = new Map<number, number>();
      const problems: string[] = [];
      let loggedFailures = 0;
      for (const e of entries) {
        seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
        const outcome = load.outcome[e.id];
        if (outcome === undefined || outcome === 0)
          problems.push(`logged request ${e.id} was never sent or never finished`);
        else if (outcome === -1 && killed.has(e.pid)) loggedFailures++;
        else if (outcome === -1) problems.push(`request ${e.id} failed, yet <${e.pid}> (not SIGKILLed) logged it`);
        else if (outcome !== e.pid) problems.push(`request ${e.id} answered by ${outcome} but logged by <${e.pid}>`);
        if (e.status !== '200') problems.push(`request ${e.id} logged with status ${e.status}`);
      }
      for (const [id, n] of seen) if (n > 1) problems.push(`request ${id} logged ${n} times`);
      let missing = 0;
      load.outcome.forEach((pid, id) => {
        if (pid <= 0 || seen.has(id)) return;
        if (++missing <= 10)
          problems.push(
            `request ${id} (answered by ${pid}${killed.has(pid) ? ', SIGKILLed later' : ''}) is not in ${files.join(', ')}`,
          );
      });
      if (missing > 10) problems.push(`... ${missing} answered requests missing from the access logs in all`);
      assert.deepEqual(problems, []);
      assert.equal(
        entries.length,
        load.ok + loggedFailures,
        'access-log lines = answered requests + logged SIGKILL failures',
      );

      const sum = (key: 'precise' | 'inFlight') => kills.reduce((s, k) => s + k[key], 0);
      console.log(
        `# ${taken} steps, load for ${loadSeconds} s: ${load.requests} requests, ${load.ok} ok, ${load.failures.length} failed; ` +
          `steps: ${JSON.stringify(counts)}`,
      );
      console.log(
        `# ${kills.length} SIGKILLs: ${sum('precise')} failures on the killed workers' connections (known by pid), ` +
          `${sum('inFlight')} more in flight at a kill on a connection of unknown worker; ` +
          `${loggedFailures} logged requests the client saw fail`,
      );
      console.log(`# access logs: ${files.length} files, ${entries.length} lines, every answered request exactly once`);
      for (const k of kills) console.log(`#   step ${k.step}: SIGKILL ${k.pid}: ${k.precise} + ${k.inFlight} failed`);
      console.log(`# replay: ${replay()}`);
    } catch (err) {
      console.log(`# error log tail:\n${tail().replace(/^/gm, '#   ')}`);
      const e = err as Error;
      e.message = `chaos seed ${SEED}, step ${stepNo} (${stepName}): ${e.message}\n  replay: ${replay()}`;
      throw e;
    }
  });
});
