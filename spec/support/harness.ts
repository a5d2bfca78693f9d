// Helpers for end-to-end tests: run the real tsgund binary, send real signals,
// make real HTTP requests. Every process a test starts is killed by pid at the end.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopAllLoads } from './load.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const CLI = join(ROOT, 'dist/lib/cli/main.js');
export const HELLO = join(ROOT, 'examples/hello.js');
export const FIXTURES = join(ROOT, 'spec/fixtures');

/**
 * What the tests started, by pid, with each process's start time: pids wrap
 * around within one run of the suite (pid_max is often 32768), and cleanup
 * must not kill another test's process that got a pid this one left.
 */
const started = new Map<number, string | null>();

/** When a process started (clock ticks after boot, /proc/PID/stat field 22); null when gone. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const remember = (pid: number): void => {
  started.set(pid, startTimeOf(pid));
};

/**
 * Every test process registers its masters in a run directory of its own
 * (TSGUND_RUN_DIR), never in /run/tsgund: names then never collide between
 * test files running side by side.
 */
export const RUN_DIR = mkdtempSync(join(tmpdir(), 'tsgund-run-'));
process.env.TSGUND_RUN_DIR = RUN_DIR;
process.on('exit', () => rmSync(RUN_DIR, { recursive: true, force: true }));

export function tempDir(prefix = 'tsgund-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A self-signed certificate for localhost, written into `dir`. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const [cert, key, config] = [join(dir, 'cert.pem'), join(dir, 'key.pem'), join(dir, 'openssl.cnf')];
  // a config of its own: a minimal system may ship the openssl binary without its openssl.cnf
  writeFileSync(config, '[req]\ndistinguished_name = dn\n[dn]\n');
  const subject = ['-config', config, '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...subject], { stdio: 'ignore' });
  return { cert, key };
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string | (() => string),
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await check();
    } catch {
      value = undefined;
    }
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** State letter of a process from /proc ('Z' for a zombie), null when gone. */
function procState(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[0]!;
  } catch {
    return null;
  }
}

export const isRunning = (pid: number): boolean => {
  const s = procState(pid);
  return s !== null && s !== 'Z';
};

/**
 * Pids whose parent is `pid` (the workers of a master), zombies left out. Read
 * from the kernel's per-thread child lists, not a scan of every process: tests
 * poll this, and a scan of /proc costs a core's worth on a busy machine.
 */
export function childrenOf(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tasks) {
    let list = '';
    try {
      list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    for (const child of list.split(' ')) if (child && isRunning(Number(child))) out.add(Number(child));
  }
  return [...out].sort((a, b) => a - b);
}

/** The worker processes of a master (its children that are not a new master). */
export const workersOf = (master: number): number[] =>
  childrenOf(master).filter((p) => cmdline(p).includes(': worker ['));

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** A running tsgund command with its output collected line by line. */
export class Proc {
  readonly lines: string[] = [];
  readonly exit: Promise<{ code: number | null; signal: string | null }>;

  constructor(readonly child: ChildProcess) {
    remember(child.pid!);
    const collect = (stream: NodeJS.ReadableStream | null) => {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        this.lines.push(...parts);
      });
    };
    collect(child.stdout);
    collect(child.stderr);
    this.exit = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /** Wait for an output line matching `re` (counting from line `from`). */
  async line(re: RegExp, timeoutMs = 10_000, from = 0): Promise<RegExpExecArray> {
    return waitFor(
      () => {
        for (const l of this.lines.slice(from)) {
          const m = re.exec(l);
          if (m) return m;
        }
        return null;
      },
      // the output at the time out, not at the call
      () => `a line matching ${re} in:\n${this.output}`,
      timeoutMs,
    );
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  kill(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }
}

export function run(args: string[], opts: SpawnOptions & { node?: string } = {}): Proc {
  const child = spawn(opts.node ?? process.execPath, [CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
    env: { ...process.env, WEB_CONCURRENCY: '', TSGUND_CMD_ARGS: '', ...opts.env },
  });
  return new Proc(child);
}

/** Start a master serving `app` on a fresh port and wait until it is ready. */
export async function startServer(
  extra: string[] = [],
  opts: SpawnOptions & { app?: string; readyLine?: RegExp } = {},
) {
  const port = await freePort();
  const proc = run(['start', opts.app ?? HELLO, '-b', `127.0.0.1:${port}`, ...extra], opts);
  await proc.line(opts.readyLine ?? /Booted \d+ worker/, 15_000);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

/** Kill, by pid, these processes and every child they have. */
function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    for (const child of childrenOf(pid)) killAll([child]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Every process the test started that is still the one it started (not a reused pid), with its children. */
function killStarted(): void {
  killAll([...started].filter(([pid, since]) => since !== null && startTimeOf(pid) === since).map(([pid]) => pid));
}

/** Remember a pid the test did not spawn itself (a daemon, an upgraded master). */
export function track(pid: number): void {
  remember(pid);
}

export async function cleanup(dirs: string[] = []): Promise<void> {
  await stopAllLoads();
  killStarted();
  started.clear();
  // a recursive rm as root: check every path before removing any
  const bad = [...dirs].find(
    (d) => typeof d !== 'string' || !isAbsolute(d) || resolve(d).split('/').filter(Boolean).length < 2,
  );
  if (bad !== undefined)
    throw new Error(`cleanup: refusing to remove ${JSON.stringify(bad)}: expected temp directories`);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function request(url: string, opts: http.RequestOptions = {}): Promise<Reply> {
  return new Promise((res, rej) => {
    const req = http.request(url, { agent: false, ...opts }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => res({ status: r.statusCode!, body, headers: r.headers }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end();
  });
}

export const IN_FLIGHT = join(FIXTURES, 'in-flight.js');

/**
 * A request to the in-flight fixture app that takes `ms`; `handled` resolves
 * once a worker is handling it (the app writes a marker file), so a test can
 * signal the master while the request is surely in flight.
 */
export function slowRequest(url: string, ms: number): { reply: Promise<Reply | Error>; handled: Promise<unknown> } {
  const marker = join(tempDir('tsgund-inflight-'), 'handled');
  const reply = request(`${url}/?ms=${ms}&marker=${encodeURIComponent(marker)}`).catch((err: Error) => err);
  return { reply, handled: waitFor(() => existsSync(marker), 'the request to be handled', 15_000) };
}

/** Is `sig` pending for `pid`? Standard signals of one kind merge while pending, so send the next only once it is not. */
export function signalPending(pid: number, sig: 'SIGTTIN' | 'SIGTTOU' | 'SIGHUP' | 'SIGWINCH'): boolean {
  const bit = 1n << BigInt(osConstants.signals[sig] - 1);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return ['SigPnd', 'ShdPnd'].some((k) => (BigInt(`0x${new RegExp(`${k}:\\s+(\\w+)`).exec(status)![1]}`) & bit) !== 0n);
}
