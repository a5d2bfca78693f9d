import type { FSWatcher } from 'chokidar';
import cluster, { type Worker } from 'node:cluster';
import { closeSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { HookRunner } from '../config/hooks.js';
import { oneLine } from '../errors.js';
import { requireApp, resolveSettings, type CommandLine, type Resolved } from '../config/resolve.js';
import { MAX_WORKERS } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { controlSocketPath } from '../control/protocol.js';
import { startControlServer, type ControlServer } from '../control/server.js';
import { logLocations, type AppMetricsStatus, type StatusSnapshot } from '../control/status.js';
import { handleSignal } from '../early-signals.js';
import { adoptHandle, unlinkUnixSocket, type Listener } from '../listeners/handles.js';
import { FDS_ENV, REUSEPORT_ENV, bindAll, inheritedFromParent } from '../listeners/inherited.js';
import type { ErrorLog } from '../log/error-line.js';
import { createErrorLog, type MasterErrorLog } from '../log/error-log.js';
import { ErrorTransports } from './error-transports.js';
import type { AppMetricsCollector, AppScrape } from '../stats/app-metrics-collector.js';
import type { MasterMetrics } from '../stats/master-metrics.js';
import type { StatsServer } from '../stats/server.js';
import { VERSION } from '../version.js';
import { parseAppSpec } from '../worker/app-loader.js';
import { WORKER_ENV, type MasterToWorker, type WorkerSpec, type WorkerToMaster } from '../worker/messages.js';
import { CrashBackoff } from './crash-backoff.js';
import { Pidfile } from './pidfile.js';
import { MasterLogFiles, WORKER_HANDOVER_FD } from './log-files.js';
import { unixSocketAccess, workerFork, workerIdentity } from './privileges.js';
import { Reaper } from './reaper.js';
import { planGuests, Slots } from './slots.js';
import { StickyPlacement, type StickyTarget } from './sticky.js';
import { notifySystemd } from './systemd-notify.js';
import { Upgrade } from './upgrade.js';
import { GenerationBoot } from './generation-boot.js';
import { MessageIntake } from './message-intake.js';
import { decide, oldestSurplus, type PoolView } from './reconcile.js';
import { BootFailure, QUICK_STOP_MS, WorkerHandle } from './worker-handle.js';

export type MasterSignal =
  | 'SIGHUP'
  | 'SIGINT'
  | 'SIGQUIT'
  | 'SIGTERM'
  | 'SIGTTIN'
  | 'SIGTTOU'
  | 'SIGUSR1'
  | 'SIGUSR2'
  | 'SIGWINCH';
/** A signal's handler, and what it does in the "Handling signal" line. */
interface SignalHandler {
  what?: string;
  run(): void | Promise<void>;
}
/**
 * Where the master is (puma's @status): the one value every decision reads.
 * A boot or a reload carries the controller that a stop signal (or, for a
 * reload, a newer HUP) aborts it with; a reload remembers the phase it returns to.
 */
type MasterState =
  | { phase: 'starting'; abort: AbortController }
  | { phase: 'running' }
  | { phase: 'paused' }
  | { phase: 'reloading'; abort: AbortController; resume: 'running' | 'paused' }
  | { phase: 'stopping'; mode: 'graceful' | 'quick' };

type MessageHandlers = {
  [T in WorkerToMaster['type']]: (h: WorkerHandle, msg: Extract<WorkerToMaster, { type: T }>) => void;
};
const STOP_SIGNALS = new Set<string>(['SIGINT', 'SIGQUIT', 'SIGTERM']);

const WORKER_HOOKS = ['postWorkerInit', 'workerInt', 'workerAbort', 'workerExit', 'preRequest', 'postRequest'] as const;
const TICK_MS = 250;
const WORKER_MAIN = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** Parse rawEnv KEY=VALUE pairs into an object. */
const envOf = (pairs: string[]): Record<string, string> =>
  Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));

/** Does this process have a controlling terminal? (WINCH then means "resized".) */
function hasTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}

export interface ArbiterOptions {
  cli: CommandLine;
  envArgs: CommandLine | null;
  resolved: Resolved;
  cwd: string;
}

/**
 * The master: owns the sockets and the generations of workers. Signal handlers
 * only enqueue; `drainQueue` handles one signal at a time, in order, each by
 * the handler named after it (onHup, onTtin, …).
 */
export class Arbiter {
  private settings: Settings;
  private resolved: Resolved;
  private hooks: HookRunner;
  private log: MasterErrorLog;
  /** The error log's transports beside its file (a config's, syslog), and the workers' pipes to them. */
  private readonly transports: ErrorTransports;
  /** Opened here, as root, and inherited by workers: see log-files.ts. */
  private readonly logFiles: MasterLogFiles;
  private listeners: Listener[] = [];
  private readonly workers = new Map<number, WorkerHandle>();
  private generation = 0;
  private target: number;
  private state: MasterState = { phase: 'starting', abort: new AbortController() };
  private readonly queue: MasterSignal[] = [];
  /** Wakes the signal loop when a signal is queued. */
  private wake: (() => void) | null = null;
  private readonly backoff = new CrashBackoff();
  private restarts = 0;
  /** Forks under way per generation (preFork hooks are async); see reconcile.ts. */
  private readonly pending = new Map<number, number>();
  /** The generation being booted (the first one, or a reload's), if any. */
  private boot: GenerationBoot | null = null;
  private spawnTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  /** With reusePort: one socket per worker slot for each TCP bind, and the workers adopting slots as guests. */
  private slots = new Slots(new Map(), adoptHandle);
  private readonly guests = new Map<number, WorkerHandle>();
  /** With sticky placement (fixed at start): the master's acceptors; null when workers accept. */
  private sticky: StickyPlacement | null = null;
  /** `generation:slot` of forks under way, so that two spawns never take the same slot. */
  private readonly reservedSlots = new Set<string>();
  private watcher: FSWatcher | null = null;
  private control: ControlServer | null = null;
  /** The statsBind listener and the metrics it serves (null unless statsBind is set). */
  private stats: StatsServer | null = null;
  private metrics: MasterMetrics | null = null;
  /** Asks the workers for the app's own prom-client metrics (null unless statsBind is set). */
  private appMetrics: AppMetricsCollector | null = null;
  private pidfile: Pidfile | null = null;
  private readonly upgrade: Upgrade;
  /** Reaps orphaned processes when the master is PID 1 (a container without --init); null otherwise. */
  private reaper: Reaper | null = null;
  private exitResolve!: (code: number) => void;
  /** Resolves with the exit code once the master has stopped. */
  readonly exited = new Promise<number>((resolve) => (this.exitResolve = resolve));

  /** One handler per signal: the signals the master handles are this table's keys. */
  private readonly signalHandlers: Record<MasterSignal, SignalHandler> = {
    SIGHUP: { what: 'reloading', run: () => this.onHup() },
    SIGTERM: { what: 'shutting down gracefully', run: () => void this.shutdown('graceful') },
    SIGINT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
    SIGQUIT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
    SIGTTIN: { run: () => this.onTtin() },
    SIGTTOU: { run: () => this.onTtou() },
    SIGUSR1: { what: 'reopening log files', run: () => this.onUsr1() },
    SIGUSR2: { run: () => this.onUsr2() },
    SIGWINCH: { run: () => this.onWinch() },
  };

  /** Checks every message from a worker before a handler below sees it (see message-intake.ts). */
  private readonly intake = new MessageIntake({
    log: () => this.log,
    counted: (reason) => this.metrics?.ignoredMessage(reason),
    deliver: (h, msg) => this.onWorkerMessage(h, msg),
    stop: (h, why) => this.stopMisbehaving(h, why),
  });

  /** One handler per kind of message a worker sends (node:cluster's methodMessageMapping); each gets a valid message. */
  private readonly messageHandlers: MessageHandlers = {
    'want-sockets': (h) => this.sendSockets(h),
    ready: (h) => {
      if (this.boot?.generation === h.generation) this.boot.onReady();
      this.placeGuests();
      this.sticky?.flush();
    },
    // a report of several lines (the app's source line and a caret under it): one log line each
    'boot-error': (h, msg) => {
      const [first, ...rest] = msg.message.split('\n');
      this.log.error(`Worker ${h.pid} failed to boot: ${first}`);
      for (const line of rest) this.log.error(line);
    },
    heartbeat: (h, msg) => this.onHeartbeat(h, msg),
    retiring: (h, msg) => this.onRetiring(h, msg.reason),
    // prom-client's cluster protocol, answered by the app: checked in depth by the collector
    'prom-client:getMetricsRes': (h, msg) => this.appMetrics?.onAnswer(h.pid, msg),
  };

  constructor(private readonly opts: ArbiterOptions) {
    this.resolved = opts.resolved;
    this.settings = opts.resolved.settings;
    this.target = this.settings.workers;
    // resolves -u/-g now: an unknown user fails the start, not the first fork
    this.logFiles = new MasterLogFiles(this.settings, workerIdentity(this.settings) ?? undefined);
    this.log = createErrorLog(this.settings, this.logFiles.errorFile);
    this.transports = new ErrorTransports(this.log);
    this.hooks = HookRunner.from(this.resolved.fileConfig, this.settings, this.log);
    this.upgrade = new Upgrade(this.log, opts.cwd);
  }

  get errorLog(): ErrorLog {
    return this.log;
  }

  get logsToStderr(): boolean {
    return this.settings.errorlog === '-';
  }

  private get graceMs(): number {
    return this.settings.gracefulTimeout * 1000;
  }

  private get name(): string {
    return this.settings.name + (this.upgrade.isChild ? '.2' : '');
  }

  /** Bind, write the pidfile and boot the first generation; throws a UserError on failure. */
  async start(): Promise<void> {
    requireApp(this.settings);
    await this.transports.configure(this.settings, this.resolved.fileConfig);
    if (this.settings.umask !== null) process.umask(this.settings.umask);
    for (const sig of Object.keys(this.signalHandlers) as MasterSignal[]) handleSignal(sig, () => this.enqueue(sig));
    process.title = `${this.name}: master [${this.settings.app}]`;
    this.log.info(`Starting tsgund ${VERSION}`);
    await this.hooks.call('onStarting');
    const inherited = inheritedFromParent(process.env);
    this.listeners = await bindAll(
      this.settings.bind,
      [],
      process.env,
      this.settings.reusePort,
      unixSocketAccess(this.settings),
    );
    this.slots = new Slots(inherited, adoptHandle);
    delete process.env[FDS_ENV];
    delete process.env[REUSEPORT_ENV];
    if (this.settings.pidfile) {
      this.pidfile = new Pidfile(
        this.settings.pidfile + (this.upgrade.isChild ? '.2' : ''),
        this.settings.controlSocket,
      );
      await this.pidfile.claim();
    }
    for (const l of this.listeners) this.log.info(`Listening at: ${this.describe(l)} (${process.pid})`);
    if (this.settings.sticky !== 'none') await this.startSticky();
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], silent: false });
    this.reaper = Reaper.forMaster(this.log); // swept by tick()
    // A ref'd timer keeps the master alive even while it holds only sockets nobody listens on.
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    try {
      const controlPath = controlSocketPath(this.settings.controlSocket, this.settings.pidfile, this.upgrade.isChild);
      if (controlPath)
        this.control = await startControlServer(
          controlPath,
          () => this.snapshot(),
          this.log,
          () => this.appMetricsStatus(),
        );
      if (this.settings.statsBind) await this.startStats(this.settings.statsBind);
      await this.bootGeneration(this.settings, this.resolved.configPath, this.abortOf(this.state)!.signal, true);
    } catch (err) {
      await this.abortStart();
      throw err;
    }
    this.state = { phase: 'running' };
    // signals that arrived while booting are handled from now on, in order
    void this.handleSignals();
    this.log.info(`Booted ${this.target} worker(s), generation ${this.generation}`);
    if (this.settings.reload) await this.startWatching();
    notifySystemd('READY=1', `STATUS=serving with ${this.target} workers`);
    await this.hooks.call('whenReady');
  }

  /** The health and metrics listener, loaded on demand: prom-client only when statsBind is set. */
  private async startStats(address: string): Promise<void> {
    const { MasterMetrics, startStatsServer, statsSource } = await import('../stats/server.js');
    const { AppMetricsCollector } = await import('../stats/app-metrics-collector.js');
    this.metrics = new MasterMetrics((message) => this.log.warning(message));
    this.appMetrics = new AppMetricsCollector((message) => this.log.warning(message));
    this.stats = await startStatsServer(
      address,
      statsSource(
        () => this.snapshot(),
        this.metrics,
        () => this.collectAppMetrics(),
      ),
      this.log,
      { waitIfBusy: this.upgrade.isChild },
    );
  }

  /** Ask the ready workers for the app's prom-client metrics (see app-metrics-collector.ts). */
  private async collectAppMetrics(): Promise<AppScrape | null> {
    const peers = [...this.workers.values()]
      .filter((h) => h.state === 'ready' && h.worker.isConnected())
      .map((h) => ({ pid: h.pid, send: (msg: object) => h.worker.send(msg) }));
    return this.appMetrics?.collect(peers) ?? null;
  }

  /** The app's metrics for `tsgund status --json` (null unless statsBind is set). */
  private async appMetricsStatus(): Promise<AppMetricsStatus | null> {
    const scrape = await this.collectAppMetrics();
    return scrape && this.metrics ? this.metrics.appStatus(scrape) : null;
  }

  private async startWatching(): Promise<void> {
    const { watchForReload } = await import('./file-watcher.js'); // development only: load chokidar on demand
    const { module } = parseAppSpec(this.settings.app!);
    this.watcher = watchForReload(
      module,
      this.settings.chdir ?? this.opts.cwd,
      this.settings.reloadExtraFiles,
      (file) => {
        this.log.info(`${file} changed, reloading`);
        this.enqueue('SIGHUP');
      },
      () => this.log.info('Watching for file changes (--reload)'),
    );
  }

  private describe(l: Listener): string {
    return l.address.kind === 'tcp'
      ? `http${this.settings.certfile ? 's' : ''}://${l.label.replace(/:\d+$/, ':' + l.address.port)}`
      : l.label;
  }

  private async abortStart(): Promise<void> {
    for (const h of this.workers.values()) h.kill();
    await this.waitForWorkers(QUICK_STOP_MS);
    this.finalCleanup();
  }

  /** The live state for `tsgund status` and the metrics endpoint. */
  snapshot(): StatusSnapshot {
    return {
      name: this.name,
      pid: process.pid,
      app: this.settings.app ?? '',
      generation: this.generation,
      targetWorkers: this.target,
      state: this.state.phase,
      uptimeMs: Math.round(process.uptime() * 1000),
      rss: process.memoryUsage.rss(),
      restarts: this.restarts,
      ignoredMessages: { ...this.intake.ignored },
      listeners: this.listeners.map((l) => this.describe(l)),
      workers: [...this.workers.values()].map((h) => ({
        pid: h.pid,
        id: h.id,
        generation: h.generation,
        state: h.state,
        uptimeMs: h.uptimeMs,
        requests: h.requests,
        accepted: h.accepted,
        slot: h.slot,
        bootMs: h.bootMs,
        rss: h.rss,
      })),
      logs: logLocations(this.settings, this.opts.cwd),
    };
  }

  // ---- signal queue ------------------------------------------------------

  enqueue(sig: MasterSignal): void {
    // A stop must not wait behind a boot (the first one or a reload's), and a
    // newer HUP supersedes a reload (the files changed again): both abort it.
    if (STOP_SIGNALS.has(sig) || (sig === 'SIGHUP' && this.state.phase === 'reloading')) {
      this.abortOf(this.state)?.abort(sig);
    }
    this.queue.push(sig);
    this.wake?.();
  }

  private abortOf(state: MasterState): AbortController | null {
    return state.phase === 'starting' || state.phase === 'reloading' ? state.abort : null;
  }

  /**
   * The signal loop, from the end of the first boot on: one signal at a time,
   * in order. (Before it, a HUP or TTIN would race with the boot, and a stop
   * aborts the boot itself: see enqueue.)
   */
  private async handleSignals(): Promise<void> {
    for (;;) {
      const sig = this.queue.shift();
      if (!sig) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      // several HUPs waiting would all load the same files: one reload does
      if (sig === 'SIGHUP' && this.queue.includes('SIGHUP')) continue;
      await this.handle(sig);
    }
  }

  /** The dispatcher: the one place a signal is logged and handled (gunicorn's handle_<sig> lookup). */
  private async handle(sig: MasterSignal): Promise<void> {
    const name = sig.slice(3);
    if (this.state.phase === 'stopping' && !STOP_SIGNALS.has(sig)) {
      this.log.info(`Ignoring signal ${name} while stopping`);
      return;
    }
    const { what, run } = this.signalHandlers[sig];
    this.log.info(`Handling signal: ${name}${what ? `, ${what}` : ''}`);
    try {
      await run();
    } catch (err) {
      this.log.error(`handling ${name} failed`, err);
    }
  }

  // ---- signal handlers ---------------------------------------------------

  private async onHup(): Promise<void> {
    notifySystemd('RELOADING=1');
    try {
      await this.reload();
    } finally {
      notifySystemd('READY=1');
    }
  }

  private onTtin(): void {
    if (this.target >= MAX_WORKERS) {
      this.log.info(`Number of workers stays ${this.target}: the maximum is ${MAX_WORKERS}`);
      return;
    }
    this.setTarget(this.target + 1);
  }

  private onTtou(): void {
    if (this.target <= 1) {
      this.log.info('Number of workers stays 1: already at 1 worker');
      return;
    }
    this.setTarget(this.target - 1);
    for (const id of oldestSurplus(this.poolView())) this.workers.get(id)!.term();
  }

  private onUsr1(): void {
    this.logFiles.reopen(this.log); // never throws: the workers get their USR1 whatever happens here
    this.logFiles.handOver(this.log); // before the signal: the descriptors wait in each worker's socket
    for (const h of this.workers.values()) h.signal('SIGUSR1');
    void this.transports.refresh();
  }

  private async onUsr2(): Promise<void> {
    // PID 1's exit kills its whole PID namespace, the new master included: the upgrade could never finish
    const refusal =
      process.pid === 1 ? 'running as PID 1 (a container): roll out a new container instead' : this.upgrade.refusal();
    if (refusal) {
      this.log.warning(`USR2 refused: ${refusal}`);
      return;
    }
    await this.hooks.call('preExec');
    this.upgrade.start(this.listeners, this.slots.forHandOver());
  }

  private onWinch(): void {
    if (hasTerminal()) {
      this.log.info('WINCH ignored: running in a terminal');
      return;
    }
    this.log.info('Stopping all workers (sockets stay open; HUP restarts them)');
    this.state = { phase: 'paused' };
    for (const h of this.workers.values()) if (!h.retiring) h.term();
  }

  // ---- generations -------------------------------------------------------

  private setTarget(n: number): void {
    const from = this.target;
    this.target = n;
    this.log.info(`Number of workers: ${from} -> ${n}`);
    void this.hooks.call('nworkersChanged', { from, to: n });
    this.reconcile();
  }

  /**
   * Boot a full generation and wait until every worker of it is ready; dead
   * workers are replaced meanwhile (see GenerationBoot for when it fails).
   * Only then does it become the serving generation.
   */
  private async bootGeneration(
    settings: Settings,
    configPath: string | null,
    signal: AbortSignal,
    lenient: boolean,
  ): Promise<void> {
    const generation = Math.max(this.generation, ...[...this.workers.values()].map((h) => h.generation)) + 1;
    const boot = new GenerationBoot(generation, settings, configPath, lenient, signal, (m) => this.log.warning(m));
    this.boot = boot;
    this.reconcile();
    try {
      await boot.done;
    } catch (err) {
      // A candidate accepts on the shared sockets before it reports ready, so a
      // superseded or failed one drains like any generation: a quick stop would
      // reset the connections it already took.
      for (const h of this.workers.values()) if (h.generation === generation && !h.retiring) h.term();
      throw err;
    } finally {
      if (this.boot === boot) this.boot = null;
    }
    this.generation = generation;
    this.target = settings.workers;
  }

  private async reload(): Promise<void> {
    const resume = this.state.phase === 'paused' ? 'paused' : 'running';
    const abort = new AbortController();
    this.state = { phase: 'reloading', abort, resume };
    const ok = await this.reloadWith(abort.signal);
    if (this.state.phase === 'reloading') this.state = { phase: ok ? 'running' : resume };
  }

  /** Returns whether the new generation took over. */
  private async reloadWith(signal: AbortSignal): Promise<boolean> {
    let next: Resolved;
    let listeners: Listener[];
    try {
      // a config module that never settles must not wedge the signal queue
      next = await settleWithin(
        resolveSettings(this.opts.cli, this.opts.envArgs, this.opts.cwd),
        this.settings.bootTimeout * 1000,
        signal,
        'the config file to load',
      );
      requireApp(next.settings);
      this.logFiles.adopt(next.settings, workerIdentity(next.settings) ?? undefined);
      listeners = await bindAll(
        next.settings.bind,
        this.listeners,
        process.env,
        false,
        unixSocketAccess(next.settings),
      );
    } catch (err) {
      this.log.error(`reload failed, keeping the running workers and configuration: ${oneLine(err)}`);
      this.metrics?.reload(false);
      return false;
    }
    for (const l of listeners)
      if (!this.listeners.includes(l)) this.log.info(`Listening at: ${this.describe(l)} (${process.pid})`);
    const previous = { resolved: this.resolved, listeners: this.listeners, hooks: this.hooks };
    this.adopt(next, listeners);
    await this.followSticky();
    await this.hooks.call('onReload');
    await this.transports.reconfigure(next.settings, next.fileConfig);
    this.logFiles.reopen(this.log);
    try {
      await this.bootGeneration(next.settings, next.configPath, signal, false);
    } catch (err) {
      const superseded = signal.reason === 'SIGHUP';
      this.log[superseded ? 'info' : 'error'](
        `reload ${superseded ? 'abandoned' : 'failed'}, the running workers keep serving: ${oneLine(err)}`,
      );
      if (!superseded) this.metrics?.reload(false);
      this.dropListeners(listeners, previous.listeners);
      this.adopt(previous.resolved, previous.listeners, previous.hooks);
      this.sticky?.configure(this.settings);
      await this.sticky?.follow(this.listeners, this.settings.backlog);
      return false;
    }
    this.dropListeners(previous.listeners, listeners);
    this.logFiles.keepOnly(next.settings);
    // the old generation, with any replacement it got while the new one booted
    for (const h of this.workers.values()) if (h.generation < this.generation && !h.retiring) h.term();
    this.guests.clear(); // the old generation, guests included, stops accepting
    this.reconcile();
    this.log.info(`Reloaded: generation ${this.generation} serving with ${this.target} worker(s)`);
    this.metrics?.reload(true);
    return true;
  }

  /** Make `resolved` the running configuration. */
  private adopt(resolved: Resolved, listeners: Listener[], hooks?: HookRunner): void {
    this.resolved = resolved;
    this.settings = resolved.settings;
    this.listeners = listeners;
    this.hooks = hooks ?? HookRunner.from(resolved.fileConfig, resolved.settings, this.log);
  }

  /** Close sockets of `from` that `keep` no longer uses. */
  private dropListeners(from: Listener[], keep: Listener[]): void {
    for (const l of from) {
      if (keep.includes(l)) continue;
      this.log.info(`Closing listener ${l.label}`);
      this.slots.drop(l);
      l.handle.close();
    }
  }

  /**
   * The one place a worker is forked. Counted in `pending` from the call until
   * the worker is registered (or the fork failed), exactly once.
   */
  private async spawnWorker(settings: Settings, configPath: string | null, generation: number): Promise<void> {
    this.pending.set(generation, (this.pending.get(generation) ?? 0) + 1);
    // a new worker takes the lowest slot its generation leaves free: a replacement takes over the socket
    // (and what queued on it) of the worker it replaces
    const slot = this.freeSlot(generation);
    const reservation = `${generation}:${slot}`;
    this.reservedSlots.add(reservation);
    const forked = () => {
      this.pending.set(generation, this.pending.get(generation)! - 1);
      this.reservedSlots.delete(reservation);
    };
    const jitter = settings.maxRequestsJitter ? Math.floor(Math.random() * (settings.maxRequestsJitter + 1)) : 0;
    const piped = this.transports.piped;
    const spec: WorkerSpec = {
      settings,
      // a worker reads the config file only for hooks it runs itself
      configPath: WORKER_HOOKS.some((name) => this.hooks.has(name)) ? configPath : null,
      generation,
      maxRequests: settings.maxRequests ? settings.maxRequests + jitter : 0,
      heartbeatMs: Math.max(100, Math.min(1000, (settings.timeout * 1000) / 4 || 1000)),
      stats: this.metrics !== null,
      sticky: this.sticky !== null,
      logFds: this.logFiles.workerFds(settings, piped),
    };
    await this.hooks.call('preFork', { generation });
    if (this.state.phase === 'stopping') {
      forked(); // a stop came while the hook ran
      return;
    }
    let worker: Worker;
    try {
      this.slots.ensure(this.listeners, slot + 1);
      // PM2's instance number is the slot: a replacement takes the number of the worker it replaces
      const appEnv = { ...envOf(settings.rawEnv), NODE_APP_INSTANCE: String(slot) };
      const fork = workerFork(workerIdentity(settings), appEnv);
      cluster.setupPrimary({
        cwd: settings.chdir ?? this.opts.cwd,
        ...fork.ids,
        stdio: this.logFiles.stdioFor(settings, piped),
      });
      worker = cluster.fork({ ...fork.env, [WORKER_ENV]: JSON.stringify(spec) });
    } catch (err) {
      forked();
      this.forkFailed(generation, err);
      return;
    }
    forked();
    worker.on('error', () => {}); // a send to a worker that just died; its exit is handled
    if (worker.process.pid === undefined) {
      // The spawn failed (EAGAIN under RLIMIT_NPROC, ENOMEM): Node reports it
      // with an 'error' event on the next tick, and no 'exit' ever follows.
      worker.process.once('error', (err) => this.forkFailed(generation, err));
      delete cluster.workers?.[worker.id];
      if (worker.process.connected) worker.process.disconnect();
      return;
    }
    const h = new WorkerHandle(worker, generation, () => this.graceMs, slot);
    this.transports.attach(h.pid, worker.process.stdio[4] as Readable | null);
    this.logFiles.attach(worker.process.stdio.at(WORKER_HANDOVER_FD), settings, piped);
    this.workers.set(worker.id, h);
    this.intake.attach(h);
    worker.on('exit', (code: number | null, signal: string | null) => this.onWorkerExit(h, code, signal));
    this.log.info(`Booting worker with pid: ${h.pid} (generation ${generation})`);
    void this.hooks.call('postFork', { pid: h.pid, id: h.id, generation });
  }

  /** A fork that failed is a crash: counted, and the next one waits for the backoff. */
  private forkFailed(generation: number, err: unknown): void {
    this.restarts++;
    this.metrics?.restart('crash');
    const delay = this.backoff.recordExit(0);
    const why = (err as NodeJS.ErrnoException).code ?? oneLine(err);
    this.log.error(`Cannot fork a worker (generation ${generation}): ${why}; next start in ${delay} ms`);
    this.reconcile();
  }

  private onWorkerMessage(h: WorkerHandle, msg: WorkerToMaster): void {
    h.onMessage(msg);
    (this.messageHandlers[msg.type] as (h: WorkerHandle, msg: WorkerToMaster) => void)(h, msg);
  }

  /** A worker that floods the master or corrupts its channel is stopped as a hung one is: SIGABRT, then SIGKILL. */
  private stopMisbehaving(h: WorkerHandle, why: string): void {
    this.log.error(`Worker ${h.pid} ${why}: stopping it`);
    h.abort(Date.now());
  }

  private onRetiring(h: WorkerHandle, reason: string): void {
    this.log.info(`Worker ${h.pid} is retiring: ${reason}`);
    h.retire();
    this.metrics?.restart('max_requests');
    this.reconcile();
  }

  private onHeartbeat(h: WorkerHandle, msg: Extract<WorkerToMaster, { type: 'heartbeat' }>): void {
    if (msg.stats) this.metrics?.addDelta(msg.stats);
    if (!(this.settings.maxMemory > 0 && msg.rss > this.settings.maxMemory * 1048576 && h.serving)) return;
    this.log.warning(
      `Worker ${h.pid} uses ${Math.round(msg.rss / 1048576)} MiB (limit ${this.settings.maxMemory} MiB), recycling it`,
    );
    h.term();
    this.metrics?.restart('max_memory');
    this.reconcile();
  }

  /** The lowest slot no serving worker of `generation` and no fork under way holds. */
  private freeSlot(generation: number): number {
    const taken = new Set<number>();
    for (const h of this.workers.values()) if (h.generation === generation && h.serving) taken.add(h.slot);
    let slot = 0;
    while (taken.has(slot) || this.reservedSlots.has(`${generation}:${slot}`)) slot++;
    return slot;
  }

  /** A worker asks for the sockets once it can receive them (messages sent earlier would be lost). */
  private sendSockets(h: WorkerHandle): void {
    const handles = this.slots.handlesFor(this.listeners, h.slot);
    this.listeners.forEach((l, index) => {
      const msg: MasterToWorker = { type: 'socket', index, total: this.listeners.length, label: l.label };
      h.worker.send(msg, handles[index] as never);
    });
  }

  /**
   * With reusePort, every slot socket needs a worker accepting on it: a slot
   * whose own worker is not ready (crashed, recycled, booting, removed by TTOU)
   * is served by a ready worker as a guest (see slots.ts). Runs on every
   * readiness, exit and tick, so it converges like reconcile().
   */
  private placeGuests(): void {
    if (this.state.phase === 'stopping' || this.boot || !this.listeners.some((l) => l.reusePort)) return;
    const plan = planGuests(this.slots.size, [...this.workers.values()], this.guests);
    for (const [slot, h] of plan.release) {
      this.guests.delete(slot);
      h.worker.send({ type: 'release', slot } satisfies MasterToWorker);
    }
    for (const [slot, h] of plan.adopt) {
      this.guests.set(slot, h);
      this.listeners.forEach((l, index) => {
        const handle = this.slots.handle(l, slot);
        if (handle) h.worker.send({ type: 'adopt', slot, index } satisfies MasterToWorker, handle as never);
      });
    }
  }

  private onWorkerExit(h: WorkerHandle, code: number | null, signal: string | null): void {
    this.workers.delete(h.id);
    h.onExit();
    this.appMetrics?.forget(h.pid);
    this.placeGuests();
    this.sticky?.onExit(h.worker);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const info = { pid: h.pid, id: h.id, generation: h.generation, code, signal };
    void this.hooks.call('childExit', info);
    if (h.retiring || this.state.phase === 'stopping') {
      this.log.info(`Worker exiting (pid: ${h.pid})${code || signal ? ` ${how}` : ''}`);
    } else {
      this.log.error(`Worker (pid: ${h.pid}) ${how}${h.readyAt ? '' : ' before it was ready'}`);
      this.restarts++;
      this.metrics?.restart(h.abortedAt ? 'timeout' : 'crash');
      const delay = this.backoff.recordExit(h.servingMs);
      if (delay > 0)
        this.log.warning(
          `Worker died ${h.readyAt ? `${h.servingMs} ms after it became ready` : 'before it was ready'}; next start in ${delay} ms`,
        );
      if (this.boot?.generation === h.generation) this.boot.onExit(h);
    }
    this.reconcile();
  }

  private poolView(): PoolView {
    const { state } = this;
    const paused = state.phase === 'paused' || (state.phase === 'reloading' && state.resume === 'paused');
    const serves = state.phase !== 'stopping' && !paused && this.generation > 0;
    const boot = state.phase !== 'stopping' && this.boot?.active ? this.boot : null;
    return {
      workers: [...this.workers.values()],
      serving: serves ? { generation: this.generation, target: this.target } : null,
      booting: boot && { generation: boot.generation, size: boot.size },
      pending: this.pending,
      mayStop: state.phase === 'running',
    };
  }

  /**
   * Compare the pool with its targets and fix any drift (gunicorn's
   * manage_workers, called every turn of its loop): on every tick and after
   * every worker exit. Spawns wait for the crash backoff.
   */
  private reconcile(): void {
    const { spawn, stop } = decide(this.poolView());
    for (const id of stop) {
      const h = this.workers.get(id)!;
      this.log.info(`Stopping surplus worker ${h.pid}`);
      h.term();
    }
    if (!spawn.length) return;
    const wait = this.backoff.wait();
    if (wait > 0) {
      this.spawnTimer ??= setTimeout(() => {
        this.spawnTimer = null;
        this.reconcile();
      }, wait);
      return;
    }
    for (const { generation, count } of spawn) {
      const boot = this.boot?.generation === generation ? this.boot : null;
      const settings = boot?.settings ?? this.settings;
      const configPath = boot ? boot.configPath : this.resolved.configPath;
      for (let i = 0; i < count; i++) void this.spawnWorker(settings, configPath, generation);
    }
  }

  /** Sticky placement: from now on the master accepts on the binds (see sticky.ts). */
  private async startSticky(): Promise<void> {
    this.sticky = new StickyPlacement(
      () => this.stickyTargets(),
      () => this.settings.backlog,
      this.log,
    );
    this.sticky.configure(this.settings);
    await this.sticky.follow(this.listeners, this.settings.backlog);
    this.log.info('Sticky placement by client address: the master accepts and hands each connection to a worker');
  }

  /**
   * Sticky placement is fixed at start (the master cannot stop accepting on a
   * socket without closing it): a HUP only makes it accept on new binds.
   */
  private async followSticky(): Promise<void> {
    const wanted = this.settings.sticky !== 'none';
    if (wanted !== (this.sticky !== null)) {
      this.log.warning(
        `setting 'sticky' takes effect at start; it stays ${this.sticky ? 'on' : 'off'} until a restart or USR2`,
      );
    }
    this.sticky?.configure(this.settings);
    await this.sticky?.follow(this.listeners, this.settings.backlog);
  }

  /** Where sticky placement sends connections: the serving generation's accepting workers, by slot. */
  private stickyTargets(): Map<number, StickyTarget> {
    const targets = new Map<number, StickyTarget>();
    for (const h of this.workers.values()) {
      if (h.generation === this.generation && h.accepting && h.worker.isConnected()) targets.set(h.slot, h.worker);
    }
    return targets;
  }

  /** One turn of the housekeeping loop: reap orphans, abort silent workers, fix the pool, follow an upgrade. */
  private tick(): void {
    this.reaper?.sweep();
    this.murderSilentWorkers();
    this.reconcile();
    this.placeGuests();
    this.sticky?.flush();
    this.followUpgrade();
  }

  /** gunicorn's murder_workers: a worker that misses its heartbeat (or its boot) gets SIGABRT, then SIGKILL. */
  private murderSilentWorkers(): void {
    const now = Date.now();
    for (const h of this.workers.values()) {
      const limit = h.state === 'booting' ? this.settings.bootTimeout : this.settings.timeout;
      if (!limit || h.retiring || now - h.lastCheckin <= limit * 1000) continue;
      if (!h.abortedAt) {
        this.log.critical(`WORKER TIMEOUT (pid: ${h.pid}): no heartbeat for ${limit} s`);
        h.abort(now);
      }
    }
  }

  private followUpgrade(): void {
    if (this.upgrade.parentGone()) {
      if (this.pidfile && this.settings.pidfile) this.pidfile.moveTo(this.settings.pidfile);
      this.upgrade.promote();
      const controlPath = controlSocketPath(this.settings.controlSocket, this.settings.pidfile);
      if (controlPath) this.control?.moveTo(controlPath);
      process.title = `${this.name}: master [${this.settings.app}]`;
      this.log.info(`Old master exited; this master (${process.pid}) is now ${this.name}`);
      notifySystemd('READY=1');
    }
  }

  // ---- shutdown ----------------------------------------------------------

  private async shutdown(mode: 'graceful' | 'quick'): Promise<void> {
    const stopping = this.state.phase === 'stopping' ? this.state.mode : null;
    const escalate = stopping === 'graceful' && mode === 'quick';
    if (stopping && !escalate) return;
    this.state = { phase: 'stopping', mode };
    notifySystemd('STOPPING=1');
    for (const h of this.workers.values()) mode === 'quick' ? h.quit() : h.term();
    if (escalate) return; // the graceful shutdown already waits and exits
    this.sticky?.close();
    this.closeListeners();
    // every worker is SIGKILLed by its handle when its grace runs out: this bound is a safety net
    await this.waitForWorkers((mode === 'quick' ? QUICK_STOP_MS : this.graceMs) + 1000);
    await this.hooks.call('onExit');
    this.finalCleanup();
    this.log.info(`Shutting down: ${this.name} master (${process.pid})`);
    await this.transports.drained();
    await Promise.all([this.log.close(), this.logFiles.close()]);
    this.exitResolve(0);
  }

  private async waitForWorkers(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (this.workers.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Stop holding the sockets so that, once the workers have closed theirs too,
   * new connections are refused. Closing a unix socket handle that bound its
   * path unlinks the path, so those stay open while another master serves on them.
   */
  private closeListeners(): void {
    const shared = this.upgrade.otherMasterAlive();
    for (const l of this.listeners) {
      if (shared && l.unixPath) continue;
      this.slots.drop(l);
      l.handle.close();
    }
  }

  private finalCleanup(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    void this.watcher?.close();
    if (this.spawnTimer) clearTimeout(this.spawnTimer);
    this.pidfile?.remove();
    this.control?.close();
    this.stats?.close();
    // a unix socket path stays while another master (old or new) still serves on it
    if (!this.upgrade.otherMasterAlive()) for (const l of this.listeners) unlinkUnixSocket(l);
  }
}

/** `work`, unless `signal` aborts or `timeoutMs` passes first (then a BootFailure). */
function settleWithin<T>(work: Promise<T>, timeoutMs: number, signal: AbortSignal | null, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new BootFailure(`gave up waiting for ${what} after ${timeoutMs / 1000} s (boot-timeout)`, 3)),
      timeoutMs,
    );
    const onAbort = () =>
      reject(
        new BootFailure(signal?.reason === 'SIGHUP' ? 'superseded by a newer HUP' : 'interrupted by a stop signal', 3),
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}
