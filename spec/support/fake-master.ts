// The master in-process over fake workers: the real Arbiter, lifecycle, pool,
// intake and placement, with an injected fork that returns fake node:cluster
// workers, a monotonic clock the test moves, and signals the test plays
// through the master's own queue (no process signal handler is installed).
// It binds one unix socket in a temporary directory and forks nothing.
//
// Every fork, message, signal sent to a worker, exit and log line goes into
// one timeline, so a test can assert the order of a sequence's steps.

import type { Worker as ClusterWorker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Arbiter } from '../../lib/master/arbiter.js';
import type { MasterSignal } from '../../lib/master/lifecycle/signal-queue.js';
import { resolveSettings } from '../../lib/config/resolve.js';
import type { StatusSnapshot } from '../../lib/protocol/status.js';
import { tempDir, waitFor } from './harness.js';

/** How a fake worker behaves unless the test drives it: `ready` at once, exit 0 on TERM and QUIT. */
export interface Behaviour {
  /** Report ready as soon as it is forked. */
  ready: boolean;
  /** Exit 0 as soon as it gets TERM (a drain with nothing in flight). */
  exitOnTerm: boolean;
}

/**
 * node:child_process's IPC channel as far as the master's channel guard reads
 * it (internals/node-internals.ts): the fake emits its messages itself, so
 * nothing is ever read from this pipe.
 */
const K_CHANNEL_HANDLE = Symbol('kChannelHandle');
const fakeChannelPipe = () => ({
  onread: () => {},
  readStop: () => 0,
  readStart: () => 0,
  [Symbol('kJSONBuffer')]: '',
  [Symbol('kStringDecoder')]: null,
});

class FakeProcess extends EventEmitter {
  readonly stdio: null[] = [];
  readonly [K_CHANNEL_HANDLE] = fakeChannelPipe();
  /** Handles sent and not yet acknowledged: none, the master sends the fake none. */
  readonly _handleQueue = null;
  constructor(
    readonly pid: number,
    private readonly onSignal: (sig: string) => void,
  ) {
    super();
  }
  kill(sig: string): boolean {
    this.onSignal(sig);
    return true;
  }
}

/** A node:cluster worker as far as the master uses it, played by the test. */
export class FakeWorker extends EventEmitter {
  readonly process: FakeProcess;
  readonly signals: string[] = [];
  exited = false;
  constructor(
    readonly id: number,
    readonly generation: number,
    /** Its worker slot (NODE_APP_INSTANCE). */
    readonly slot: number,
    private readonly master: FakeMaster,
    private readonly behaviour: Behaviour,
  ) {
    super();
    this.process = new FakeProcess(5000 + id, (sig) => this.onSignal(sig));
    // node:cluster re-emits its process's messages on the worker (after the master's channel guard)
    this.process.on('message', (msg: unknown, handle: unknown) => this.emit('message', msg, handle));
  }

  get pid(): number {
    return this.process.pid;
  }

  send(): boolean {
    return true;
  }

  isConnected(): boolean {
    return !this.exited;
  }

  /** A message from this worker to the master. */
  tell(msg: object): void {
    this.master.record(`message ${this.pid} ${JSON.stringify(msg)}`);
    this.process.emit('message', msg);
  }

  ready(): void {
    this.tell({ type: 'ready' });
  }

  exit(code: number | null, signal: string | null = null): void {
    if (this.exited) return;
    this.exited = true;
    this.master.record(`exit ${this.pid} ${signal ?? code}`);
    this.emit('exit', code, signal);
  }

  private onSignal(sig: string): void {
    if (this.exited) return;
    this.signals.push(sig);
    this.master.record(`signal ${this.pid} ${sig}`);
    // a process exits a turn later at the soonest (a drain with nothing in flight takes a few)
    if (sig === 'SIGKILL') setImmediate(() => this.exit(null, 'SIGKILL'));
    else if (sig === 'SIGQUIT' || (sig === 'SIGTERM' && this.behaviour.exitOnTerm)) setImmediate(() => this.exit(0));
  }

  /** What a forked worker does first: ask for its sockets, then report ready, or its app's failure and exit. */
  boot(): void {
    this.tell({ type: 'want-sockets' });
    const failure = this.master.bootFailure(this);
    if (failure) {
      this.tell({ type: 'boot-error', exitCode: 3, message: failure });
      setImmediate(() => this.exit(3));
    } else if (this.behaviour.ready) this.ready();
  }
}

export interface FakeMasterOptions {
  /** Settings of the config file (read again on every HUP: see `configure`). */
  config?: Record<string, unknown>;
  behaviour?: Partial<Behaviour>;
}

const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;

export class FakeMaster {
  readonly timeline: string[] = [];
  readonly workers: FakeWorker[] = [];
  /** The monotonic clock the pool reads (ms); move it with `advance`. */
  now = 10_000;
  /** The most worker processes alive at once. */
  maxLive = 0;
  /** Why a worker's app fails to load (its boot-error message), or null: it loads. */
  bootFailure: (w: FakeWorker) => string | null = () => null;
  private ids = 0;
  private arbiterOrNull: Arbiter | null = null;

  private constructor(
    readonly dir: string,
    public behaviour: Behaviour,
  ) {}

  /** A master over fake workers with its config file written; start() boots it. */
  static async create(opts: FakeMasterOptions = {}): Promise<FakeMaster> {
    const m = new FakeMaster(tempDir('tsgund-fake-master-'), { ready: true, exitOnTerm: true, ...opts.behaviour });
    m.configure(opts.config ?? {});
    const cli = { configPath: null, app: 'app.js', values: {} };
    const resolved = await resolveSettings(cli, null, m.dir);
    const arbiter = new Arbiter({
      cli,
      envArgs: null,
      resolved,
      cwd: m.dir,
      host: {
        fork: async (gen, slot) => m.fork(gen.number, slot) as unknown as ClusterWorker,
        clock: () => m.now,
        onSignal: () => {}, // the test plays signals through signal()
        hasTerminal: () => false, // as a daemon: WINCH stops the workers
      },
    });
    m.arbiterOrNull = arbiter;
    m.captureLog(arbiter);
    return m;
  }

  get arbiter(): Arbiter {
    return this.arbiterOrNull!;
  }

  /** Write the config file a start or a HUP reads (unix socket in the temporary directory, 2 workers, …). */
  configure(config: Record<string, unknown>): void {
    // a name of its own: specs that run in one process would otherwise meet the registration of an earlier one
    const settings = { bind: [`unix:${join(this.dir, 'app.sock')}`], workers: 2, name: basename(this.dir), ...config };
    writeFileSync(join(this.dir, '.tsgundrc.json'), JSON.stringify(settings));
  }

  /** Boot the master; resolves once its first generation serves. */
  start(): Promise<void> {
    return this.arbiter.start();
  }

  /** A signal to the master, as its handler would enqueue it. */
  signal(sig: MasterSignal): void {
    this.record(`master ${sig}`);
    this.arbiter.enqueue(sig);
  }

  /** Stop the master (QUIT: the fake workers exit at once) and remove its directory. */
  async close(): Promise<void> {
    if (this.status().state !== 'stopping') this.signal('SIGQUIT');
    await this.arbiter.exited;
    this.remove();
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  status(): StatusSnapshot {
    return this.arbiter.snapshot();
  }

  /** Fake workers of `generation` that have not exited. */
  live(generation?: number): FakeWorker[] {
    return this.workers.filter((w) => !w.exited && (generation === undefined || w.generation === generation));
  }

  record(event: string): void {
    this.timeline.push(event);
  }

  /** The log lines so far, as `[LEVEL] message`. */
  get log(): string[] {
    return this.timeline.filter((e) => e.startsWith('['));
  }

  /** Wait until a log line matches `re`. */
  logged(re: RegExp, what = String(re)): Promise<unknown> {
    return waitFor(
      () => this.log.some((l) => re.test(l)),
      () => `${what} in:\n${this.log.join('\n')}`,
      5000,
    );
  }

  /** Where in the timeline the first event matching `re` is (-1: none). */
  at(re: RegExp): number {
    return this.timeline.findIndex((e) => re.test(e));
  }

  advance(ms: number): void {
    this.now += ms;
  }

  private fork(generation: number, slot: number): FakeWorker {
    const w = new FakeWorker(++this.ids, generation, slot, this, this.behaviour);
    this.workers.push(w);
    this.maxLive = Math.max(this.maxLive, this.live().length);
    this.record(`fork ${w.pid} generation ${generation}`);
    // after the pool registered it and attached its intake (the fork resolves first)
    setImmediate(() => w.boot());
    return w;
  }

  /** Every line the master logs goes into the timeline, and nowhere else. */
  private captureLog(arbiter: Arbiter): void {
    const log = arbiter.errorLog as unknown as Record<string, (m: string) => void>;
    for (const level of LEVELS) log[level] = (m: string) => this.record(`[${level.toUpperCase()}] ${m}`);
  }
}
