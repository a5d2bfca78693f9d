// Fuzz the command line and the config file: seeded random flags and values
// (from the settings table), random TSGUND_CMD_ARGS and random JSON config
// files (random keys, values and types; occasionally all valid). Every run of
// `tsgund start` must, within 10 s, either be a running server (answering HTTP;
// then it is QUIT and must exit 0 leaving no process behind) or exit with 1, 3
// or 4 (config, worker boot, app load) with exactly one `tsgund:` line on
// stderr and no stack trace. --check-config/--print-config may also exit 0.
//
//   node --test dist/spec/e2e/fuzz.test.js                     # CI: 24 cases, 4 at a time
//   FUZZ_CASES=400 node --test dist/spec/e2e/fuzz.test.js      # long form
//   FUZZ_SEED=1234 FUZZ_CASES=400 node --test dist/spec/e2e/fuzz.test.js      # replay a run
//   FUZZ_SEED=1234 FUZZ_ONLY=17 node --test dist/spec/e2e/fuzz.test.js        # replay one case
//   FUZZ_VERBOSE=1 ...                                                          # print every command line
//
// Case i uses its own generator seeded from (seed, i), so it does not depend on
// the others; the failure message prints its command line and config file.
// Exit 3 (worker boot failure, documented) is accepted like 1 and 4. Every
// bug this found has a deterministic regression test at the end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HOOKS } from '../../lib/config/hook-table.js';
import { SETTINGS, flagOf, type SettingSpec } from '../../lib/config/settings.js';
import {
  CLI,
  FIXTURES,
  HELLO,
  cleanup,
  cmdline,
  freePort,
  isRunning,
  request,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';
import { Rng, intFrom, processesOf, seedFrom } from '../support/chaos.js';

const SEED = seedFrom('FUZZ_SEED');
const CASES = intFrom('FUZZ_CASES', 24);
const ONLY = process.env.FUZZ_ONLY === undefined ? null : Number(process.env.FUZZ_ONLY);
const DEADLINE_MS = 10_000;
const MARKER = 'TSGUND_FUZZ_RUN';

const root = tempDir('tsgund-fuzz-');
chmodSync(root, 0o755); // workers run with -u nobody in some cases: let them reach their cwd
after(() => {
  sweep(`${MARKER}=${root}`, root, true);
  return cleanup([root]);
});

/** SIGKILL every process this file started that is still there (found by the marker in its environment). */
function sweep(marker: string, dir: string, prefix = false): void {
  for (const p of processesOf(marker, dir, prefix)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

// A worker that dies 50 ms after it starts (a crash loop). Unlike
// spec/fixtures/crash-after-start.js it leaves the master alone when --preload
// imports it there: an app calling process.exit() in the master is not a tsgund error.
const CRASHING_APP = join(root, 'crashing-worker.mjs');
writeFileSync(
  CRASHING_APP,
  "import cluster from 'node:cluster';\nif (cluster.isWorker) setTimeout(() => process.exit(1), 50);\nexport default (req, res) => res.end('short-lived\\n');\n",
);

// ------------------------------------------------------------ value generators

/** Junk values (a few happen to be valid for some settings); never a path outside the case dir that could be created. */
const JUNK = [
  '',
  ' ',
  'abc',
  '-1',
  '1.5',
  '1e309',
  'NaN',
  'Infinity',
  '0x1F',
  ' 7 ',
  'true',
  'null',
  '%(',
  '%(x)s',
  'unix:',
  'fd://',
  'fd://x',
  '[::1',
  'a=b=c',
  '=x',
  '🙂',
  'x'.repeat(3000),
  '/nonexistent-tsgund-fuzz/dir/file',
  'no/such/dir/file',
  '--',
  '-w',
  '\\',
  '"quoted"',
  "'q'",
];

interface Case {
  dir: string;
  args: string[];
  env: Record<string, string>;
  config: { file: string; text: string } | null;
  /** addresses that, if the server runs, it listens on (we made them: free ports, sockets in dir) */
  probes: string[];
  /** --check-config or --print-config given: exit 0 is fine */
  oneShot: boolean;
  /** what the run printed (for the failure message and the known-bug check) */
  stdout: string;
  stderr: string;
}

async function validValue(rng: Rng, s: SettingSpec, dir: string, probes: string[]): Promise<unknown> {
  switch (s.key) {
    case 'bind': {
      if (rng.chance(0.3)) {
        const path = join(dir, `s${rng.int(0, 99)}.sock`);
        probes.push(`unix:${path}`);
        return `unix:${path}`;
      }
      const addr = `127.0.0.1:${await freePort()}`;
      probes.push(addr);
      return addr;
    }
    case 'statsBind':
      return `127.0.0.1:${await freePort()}`;
    case 'workers':
      return rng.int(1, 2);
    case 'backlog':
      return rng.pick([1, 16, 2048]);
    case 'timeout':
      return rng.pick([0, 0.5, 5, 30]);
    case 'gracefulTimeout':
      return rng.pick([0, 1, 30]);
    case 'bootTimeout':
      return rng.pick([0.1, 1, 10, 30]);
    case 'keepAlive':
      return rng.pick([0, 1, 5]);
    case 'maxRequests':
      return rng.pick([0, 1, 100]);
    case 'maxRequestsJitter':
      return rng.pick([0, 5]);
    case 'maxMemory':
      return rng.pick([0, 1, 512]);
    case 'pidfile':
      return join(dir, 'app.pid');
    case 'name':
      return rng.pick(['tsgund', 'api', 'my-app.1', 'x']);
    case 'chdir':
      return dir;
    case 'user':
      return rng.pick(['nobody', 'root', '0', '65534']);
    case 'group':
      return rng.pick(['nogroup', 'root', '0']);
    case 'umask':
      return rng.pick(['022', '027', '0', '0o077']);
    case 'rawEnv':
      return rng.pick(['FOO=bar', 'EMPTY=', 'A_1=x=y']);
    case 'accesslog':
      return rng.pick([join(dir, 'access.log'), '-']);
    case 'accessLogFormat':
      return rng.pick(['%(h)s "%(r)s" %(s)s', '%(U)s?%(q)s %(p)s %(L)s', '%({user-agent}i)s %%', 'plain']);
    case 'errorlog':
      return rng.pick([join(dir, 'error.log'), '-']);
    case 'controlSocket':
      return join(dir, 'ctl.sock');
    case 'reloadExtraFiles':
      return dir;
    case 'forwardedAllowIps':
      return rng.pick(['*', '127.0.0.1', '10.0.0.1,::1']);
    case 'certfile':
      return join(dir, 'missing-cert.pem'); // no cert here: always an error
    case 'keyfile':
      return join(dir, 'missing-key.pem');
  }
  switch (s.kind) {
    case 'bool':
      return rng.chance(0.5);
    case 'enum':
      return rng.pick(s.choices!);
    default:
      return 'x';
  }
}

/** A random value of a random JSON type. */
function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, depth > 1 ? 4 : 6)) {
    case 0:
      return rng.pick([0, 1, -1, 2.5, 1e21, 65536, 0o22]);
    case 1:
      return rng.pick(JUNK);
    case 2:
      return rng.chance(0.5);
    case 3:
      return null;
    case 4:
      return rng.pick(['workers', 'tsgund', '127.0.0.1:1', 'unix:/nonexistent-tsgund-fuzz/s.sock', 'debug', 'json']);
    case 5:
      return Array.from({ length: rng.int(0, 3) }, () => randomJson(rng, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rng.int(0, 3) }, () => [
          rng.pick(['a', 'workers', '', 'default']),
          randomJson(rng, depth + 1),
        ]),
      );
  }
}

const JSON_TYPO_KEYS = [
  'wokers',
  'Workers',
  'bind ',
  'graceful_timeout',
  'max-requests',
  '__proto__',
  'constructor',
  'toString',
  '',
];

/** Random command-line flags for some settings; valid values most of the time. */
async function randomFlags(rng: Rng, dir: string, probes: string[], n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.05)) {
      out.push(rng.pick(['--wrokers', '--no-such-flag', '-Z', '--check-config', '--print-config', '-c']));
      continue;
    }
    const s = rng.pick(SETTINGS);
    const long = `--${flagOf(s)}`;
    const name = s.short && rng.chance(0.4) ? `-${s.short}` : long;
    if (s.kind === 'bool') {
      if (rng.chance(0.15)) out.push(`--no-${flagOf(s)}`);
      else if (rng.chance(0.1)) out.push(`${long}=${rng.pick(['yes', 'false', '1'])}`);
      else out.push(name);
      continue;
    }
    const value = rng.chance(0.7) ? String(await validValue(rng, s, dir, probes)) : rng.pick(JUNK);
    if (rng.chance(0.03))
      out.push(name); // value missing (or taken from the next flag)
    else if (name === long && rng.chance(0.3)) out.push(`${long}=${value}`);
    else out.push(name, value);
  }
  return out;
}

/** A random config file: mostly settings keys with random or valid values; sometimes all valid. */
async function randomConfig(rng: Rng, dir: string, probes: string[]): Promise<Record<string, unknown>> {
  const allValid = rng.chance(0.3);
  const config: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // '__proto__' is just a key here
  for (let i = rng.int(0, 5); i > 0; i--) {
    const roll = rng.next();
    if (!allValid && roll < 0.1) config[rng.pick(JSON_TYPO_KEYS)] = randomJson(rng);
    else if (!allValid && roll < 0.15) config[rng.pick(HOOKS)] = randomJson(rng);
    else if (roll < 0.2) config.app = allValid ? HELLO : randomJson(rng);
    else {
      const s = rng.pick(SETTINGS);
      let value = allValid || rng.chance(0.5) ? await validValue(rng, s, dir, probes) : randomJson(rng);
      if (s.kind === 'int' || s.kind === 'number')
        value = typeof value === 'string' && /^\d/.test(value) ? Number(value) : value;
      if (s.key === 'umask' && typeof value === 'string' && allValid) value = parseInt(value.replace(/^0o/, ''), 8);
      config[s.key] = value;
    }
  }
  return config;
}

async function makeCase(rng: Rng, index: number): Promise<Case> {
  const dir = join(root, `case-${String(index).padStart(5, '0')}`); // fixed width: no case dir is a prefix of another
  mkdirSync(dir);
  const probes: string[] = [];
  const env: Record<string, string> = {};
  let config: Case['config'] = null;
  const args = ['start'];
  const app = rng.weighted({
    hello: 12,
    none: 2,
    missing: 1,
    throws: 1,
    notHandler: 1,
    named: 1,
    namedMissing: 1,
    crash: 1,
  });
  const apps: Record<typeof app, string | null> = {
    hello: HELLO,
    none: null,
    missing: 'nope/missing.js',
    throws: join(FIXTURES, 'throws-on-load.js'),
    notHandler: join(FIXTURES, 'not-a-handler.js'),
    named: join(FIXTURES, 'named-export.js:api'),
    namedMissing: join(FIXTURES, 'named-export.js:nope'),
    crash: CRASHING_APP,
  };
  if (apps[app]) args.push(apps[app]!);
  args.push(...(await randomFlags(rng, dir, probes, rng.int(0, 5))));

  if (rng.chance(0.6)) {
    const roll = rng.next();
    let text: string;
    if (roll < 0.08) text = rng.pick(['', '{', '{"workers": 2,,}', 'null', '[]', '"str"', '42', '{"workers": 1}{}']);
    else text = JSON.stringify(await randomConfig(rng, dir, probes), null, rng.chance(0.5) ? 2 : 0);
    const where = rng.weighted({ flag: 3, search: 2, packageJson: 1 });
    if (where === 'packageJson') {
      config = { file: join(dir, 'package.json'), text: `{ "name": "fuzz", "tsgund": ${text || 'null'} }` };
    } else {
      config = { file: join(dir, where === 'flag' ? 'fuzz.json' : 'tsgund.config.json'), text };
      if (where === 'flag') args.push('-c', config.file);
    }
    writeFileSync(config.file, config.text);
  }
  if (rng.chance(0.15))
    env.TSGUND_CMD_ARGS = (await randomFlags(rng, dir, probes, rng.int(1, 3)))
      .map((a) => (/\s|^$/.test(a) ? JSON.stringify(a) : a))
      .join(' ');

  // never the default 127.0.0.1:8000: give it a free port unless some layer binds already
  const binds = (text: string) => /(^|\s)(-b|--bind)(\s|=)/.test(text);
  if (!binds(args.join(' ')) && !binds(env.TSGUND_CMD_ARGS ?? '') && !config?.text.includes('"bind"')) {
    const addr = `127.0.0.1:${await freePort()}`;
    probes.push(addr);
    args.splice(1, 0, '-b', addr); // first: a trailing flag with its value missing must not swallow it
  }
  const all = `${args.join(' ')} ${env.TSGUND_CMD_ARGS ?? ''}`;
  return {
    dir,
    args,
    env,
    config,
    probes,
    oneShot: /--(check|print)-config/.test(all),
    stdout: '',
    stderr: '',
  };
}

// ------------------------------------------------------------ running a case

function get(addr: string): Promise<number> {
  const opts: http.RequestOptions = addr.startsWith('unix:')
    ? { socketPath: addr.slice(5), path: '/' }
    : { host: addr.slice(0, addr.lastIndexOf(':')), port: Number(addr.slice(addr.lastIndexOf(':') + 1)), path: '/' };
  return new Promise((resolve) => {
    const req = http.get({ ...opts, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** A line saying the master booted, in its output or in any log file of the case dir. */
function bootedSomewhere(dir: string, output: string): boolean {
  if (/Booted \d+ worker/.test(output)) return true;
  for (const f of readdirSync(dir)) {
    try {
      const p = join(dir, f);
      if (statSync(p).isFile() && /Booted \d+ worker/.test(readFileSync(p, 'utf8'))) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

function describeCase(c: Case): string {
  const env = c.env.TSGUND_CMD_ARGS !== undefined ? `TSGUND_CMD_ARGS=${JSON.stringify(c.env.TSGUND_CMD_ARGS)} ` : '';
  const args = c.args.map((a) =>
    a.length > 60
      ? `${JSON.stringify(a.slice(0, 40))}…(${a.length} chars)`
      : /[\s"'$]|^$/.test(a)
        ? JSON.stringify(a)
        : a,
  );
  const cfg = c.config
    ? `\n  ${basename(c.config.file)}: ${c.config.text.replace(/x{60,}/g, (m) => `x…(${m.length})`).slice(0, 600)}`
    : '';
  return `  (cd ${c.dir} && ${env}tsgund ${args.join(' ')})${cfg}`;
}

async function runCase(c: Case): Promise<string> {
  const marker = `${MARKER}=${c.dir}`;
  const child = spawn(process.execPath, [CLI, ...c.args], {
    cwd: c.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', [MARKER]: c.dir, ...c.env },
  });
  track(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (c.stdout = stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (c.stderr = stderr += d));
  let exit: { code: number | null; signal: string | null } | null = null;
  const exited = new Promise<void>((resolve) =>
    child.on('close', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const t0 = Date.now();
  const ours = () => processesOf(marker, c.dir);

  // Within the deadline: exit, or serve. Serving counts only when the process we
  // started is the master: `start -D` must exit (0 once its daemon is ready).
  // Ready = the `Booted N worker(s)` line (in the output or a log file); an
  // HTTP 200 alone may come from the first of several workers, so after one we
  // give the Booted line 3 s more (a log level above info hides it).
  let serving = false;
  let booted = false;
  let answeredAt = 0;
  while (!exit && Date.now() - t0 < DEADLINE_MS) {
    if (cmdline(child.pid!).includes(': master [')) {
      booted = bootedSomewhere(c.dir, stdout + stderr);
      if (!booted && !answeredAt) for (const p of c.probes) if ((await get(p)) === 200) answeredAt = Date.now();
      if (booted || (answeredAt && Date.now() - answeredAt > 3000)) {
        serving = true;
        break;
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
  }
  const took = Date.now() - t0;
  if (!exit && !serving) {
    assert.fail(
      `neither exited nor serving after ${DEADLINE_MS} ms\n--- stderr:\n${stderr.slice(-2000)}\n--- stdout:\n${stdout.slice(-1000)}`,
    );
  }
  const ex = exit as { code: number | null; signal: string | null } | null;
  const daemonPid = ex?.code === 0 ? Number(/daemon started \(master pid (\d+)\)/.exec(stdout)?.[1] ?? 0) : 0;
  if (ex && !daemonPid) {
    // it exited by itself: a one-shot command, or an error
    const lines = stderr.split('\n').filter((l) => l.startsWith('tsgund:'));
    if (ex.code === 0) {
      assert.ok(
        c.oneShot,
        `exit 0 without --check-config/--print-config or a daemon\n--- stderr:\n${stderr}\n--- stdout:\n${stdout.slice(0, 1000)}`,
      );
    } else {
      assert.ok(
        [1, 3, 4].includes(ex.code!),
        `exit ${JSON.stringify(ex)}, expected 1, 3 or 4\n--- stderr:\n${stderr.slice(-3000)}`,
      );
      assert.equal(
        lines.length,
        1,
        `exactly one 'tsgund:' line on stderr, got ${lines.length}:\n--- stderr:\n${stderr.slice(-3000)}`,
      );
    }
    assert.doesNotMatch(stderr + stdout, /\n\s+at /, `no stack trace:\n--- stderr:\n${stderr.slice(-3000)}`);
    await waitFor(
      () => ours().length === 0,
      `no process left behind after exit ${ex.code}: ${JSON.stringify(ours())}`,
      5000,
    );
    return `exit ${ex.code} in ${took} ms: ${(lines[0] ?? stdout.split('\n')[0] ?? '').slice(0, 160)}`;
  }

  // A running server: the foreground master, or the daemon the start command reported.
  const master = daemonPid || child.pid!;
  if (daemonPid) track(daemonPid);
  assert.ok(isRunning(master), `master ${master} is running`);
  process.kill(master, 'SIGQUIT');
  await waitFor(() => !isRunning(master), `master ${master} to exit after QUIT`, 10_000);
  if (master === child.pid) {
    await exited;
    const quitDuringBoot =
      !booted &&
      (exit as { code: number | null } | null)?.code === 3 &&
      stderr
        .split('\n')
        .filter((l) => l.startsWith('tsgund:'))
        .join('\n') === 'tsgund: interrupted by a stop signal';
    // without the Booted line we may have sent QUIT during the boot, which aborts it (exit 3, by design)
    if (!quitDuringBoot)
      assert.deepEqual(exit, { code: 0, signal: null }, `exit after QUIT\n--- stderr:\n${stderr.slice(-3000)}`);
  }
  await waitFor(() => ours().length === 0, `no process left after QUIT: ${JSON.stringify(ours())}`, 5000);
  return `served after ${took} ms${daemonPid ? ' (daemon)' : ''}${booted ? '' : ' (no Booted line seen)'}, QUIT ok`;
}

// ------------------------------------------------------------ the cases

/** Case i's own seed: independent of the other cases and of their order. */
const caseSeed = (i: number) => (Math.imul(SEED ^ 0x9e3779b9, 31) + Math.imul(i + 1, 0x85ebca6b)) >>> 0;

describe(`fuzz: ${CASES} random command lines and config files (seed ${SEED})`, { concurrency: 4 }, () => {
  console.log(
    `# fuzz seed ${SEED}, ${CASES} cases (replay: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}; one case: FUZZ_SEED=${SEED} FUZZ_ONLY=<i>)`,
  );
  for (let i = 0; i < CASES; i++) {
    if (ONLY !== null && i !== ONLY) continue;
    it(`case ${i}`, { timeout: 60_000 }, async () => {
      const c = await makeCase(new Rng(caseSeed(i)), i);
      try {
        const outcome = await runCase(c);
        console.log(`# case ${i}: ${outcome}${process.env.FUZZ_VERBOSE ? `\n${describeCase(c)}` : ''}`);
      } catch (err) {
        const e = err as Error;
        e.message = `fuzz seed ${SEED} case ${i} (replay: FUZZ_SEED=${SEED} FUZZ_ONLY=${i}):\n${describeCase(c)}\n${e.message}`;
        throw e;
      } finally {
        sweep(`${MARKER}=${c.dir}`, c.dir);
      }
    });
  }
});

// Regression tests for bugs this fuzzer found.
describe('bugs found by fuzzing', { concurrency: 3 }, () => {
  const dir = join(root, 'regressions');
  mkdirSync(dir);

  /** Run the CLI in `cwd` to completion (at most 12 s). */
  const runIn = async (cwd: string, args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', [MARKER]: cwd },
    });
    track(child.pid!);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    sweep(`${MARKER}=${cwd}`, cwd);
    return { code, stderr, ms: Date.now() - t0 };
  };
  const oneLineError = (r: { code: number | null; stderr: string }, code: number, re: RegExp) => {
    assert.equal(r.code, code, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('tsgund:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  };

  it('a malformed package.json in the working directory is a one-line config error, even with -c', async () => {
    const cwd = join(dir, 'broken-package-json');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'package.json'), '{ "name": "x",, }\n');
    writeFileSync(join(cwd, 'cfg.json'), '{ "workers": 1 }\n');
    const version = await runIn(cwd, ['--version']);
    assert.equal(version.code, 0, `tsgund --version: ${version.stderr}`);
    oneLineError(await runIn(cwd, ['check-config', HELLO, '-c', join(cwd, 'cfg.json')]), 1, /package\.json/);
  });

  it('workers run as a user who cannot reach the working directory still boot (config is not searched at import)', {
    skip: process.getuid?.() !== 0 && 'needs root',
  }, async () => {
    const locked = join(dir, 'locked');
    mkdirSync(join(locked, 'app'), { recursive: true });
    chmodSync(locked, 0o700); // nobody cannot reach locked/app
    const cwd = join(locked, 'app');
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'start', HELLO, '-u', 'nobody', '-b', `127.0.0.1:${port}`], {
      cwd,
      stdio: 'ignore',
      env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', [MARKER]: cwd },
    });
    track(child.pid!);
    await waitFor(async () => (await request(`http://127.0.0.1:${port}/`)).status === 200, 'serving', 15_000);
    child.kill('SIGQUIT');
    await new Promise((resolve) => child.on('close', resolve));
    sweep(`${MARKER}=${cwd}`, cwd);
  });

  it('an access log that cannot be opened is a one-line error at start (exit 1), not a stack trace from each worker', async () => {
    const cwd = join(dir, 'accesslog');
    mkdirSync(cwd);
    const r = await runIn(cwd, [
      'start',
      HELLO,
      '--access-logfile',
      join(cwd, 'no-such-dir', 'access.log'),
      '-b',
      `127.0.0.1:${await freePort()}`,
    ]);
    oneLineError(r, 1, /access/);
  });

  it('an error log that cannot be opened is reported as such, naming the setting (not "unexpected error")', async () => {
    const cwd = join(dir, 'errorlog');
    mkdirSync(cwd);
    const r = await runIn(cwd, [
      'start',
      HELLO,
      '--error-logfile',
      join(cwd, 'no-such-dir', 'error.log'),
      '-b',
      `127.0.0.1:${await freePort()}`,
    ]);
    oneLineError(r, 1, /error.?log/i);
    assert.doesNotMatch(r.stderr, /unexpected error/);
  });

  it('a --chdir that does not exist fails at once (exit 1), not after the boot timeout', async () => {
    const cwd = join(dir, 'chdir');
    mkdirSync(cwd);
    const r = await runIn(cwd, [
      'start',
      HELLO,
      '--chdir',
      join(cwd, 'no-such-dir'),
      '-b',
      `127.0.0.1:${await freePort()}`,
    ]);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    oneLineError(r, 1, /chdir/);
  });
});
