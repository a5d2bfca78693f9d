import cluster from 'node:cluster';
import { alignToGrid } from '../grid.js';
import type { Readable } from 'node:stream';
import { HookRunner } from '../config/hooks.js';
import { requireApp, type CommandLine, type Resolved } from '../config/resolve.js';
import { MAX_WORKERS } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import type { StatusSnapshot } from '../protocol/status.js';
import { handleSignal } from '../early-signals.js';
import type { Listener } from '../listeners/handles.js';
import type { ErrorLog } from '../log/error-line.js';
import { createErrorLog, type MasterErrorLog } from '../log/error-log.js';
import { ErrorTransports } from './logs/error-transports.js';
import { VERSION } from '../version.js';
import { WORKER_MAIN } from './pool/fork.js';
import { firstGeneration, type Generation } from './lifecycle/generation.js';
import { abortOf, type MasterState, targetsOf } from './lifecycle/master-state.js';
import { type ReloadContext, runReload } from './lifecycle/reload.js';
import { bootBeside, bootWhole } from './lifecycle/candidate.js';
import { KernelPlacement } from './placement/kernel-placement.js';
import { SlotPlacement } from './placement/slot-placement.js';
import type { StickyPlacement } from './placement/sticky-placement.js';
import { followSticky, startSticky } from './placement/sticky-follow.js';
import { MasterLogFiles } from './logs/master-log-files.js';
import { MasterServices } from './services/master-services.js';
import { Outcomes } from './lifecycle/outcomes.js';
import type { Pool, Worker } from './pool/pool.js';
import { workerIdentity } from './process/privileges.js';
import { type MasterSignal, SignalQueue, STOP_SIGNALS } from './lifecycle/signal-queue.js';
import { listenerUrl, protocolsOf } from '../listeners/listener-url.js';
import { snapshot } from './snapshot.js';
import { notifySystemd } from './process/systemd-notify.js';
import { hasTerminal } from './process/terminal.js';
import { Upgrade } from './process/upgrade.js';
import { Descendants, isClusterWorker } from './process/descendants.js';
import { finalCleanup, shutDown, type Teardown } from './lifecycle/shutdown.js';
import { QUICK_STOP_MS } from './pool/worker-handle.js';
import { wirePool } from './pool/worker-events.js';

const TICK_MS = 250;
/** Signals handled at once while a reload is under way, rather than queued behind it. */
const BESIDE_RELOAD = new Set<MasterSignal>(['SIGUSR1', 'SIGUSR2', 'SIGWINCH']);

export interface ArbiterOptions {
  cli: CommandLine;
  envArgs: CommandLine | null;
  resolved: Resolved;
  cwd: string;
}

/**
 * The master: signals, generations and the tick. Signal handlers only
 * enqueue; the signal queue handles one signal at a time, in order, each by
 * its entry in the table below. The workers are the pool's (pool.ts).
 */
export class Arbiter {
  private readonly log: MasterErrorLog;
  /** The error log's transports beside its file (a config's, syslog), and the workers' pipes to them. */
  private readonly transports: ErrorTransports;
  /** Opened here, as root, and inherited by workers: see log/master-log-files.ts. */
  private readonly logFiles: MasterLogFiles;
  /** The hooks of the configuration the master started with (onStarting runs before any generation exists). */
  private readonly startHooks: HookRunner;
  /** The generation serving (null until the first one booted). */
  private current: Generation | null = null;
  /** The generation booting: the first one, or a reload's candidate. */
  private candidate: Generation | null = null;
  private state: MasterState = { phase: 'starting', abort: new AbortController() };
  /** With reusePort: one socket per worker slot for each TCP bind, and the guests on them. */
  private placement = new SlotPlacement(new Map());
  private readonly pool: Pool;
  private tickTimer: NodeJS.Timeout | null = null;
  private readonly upgrade: Upgrade;
  private readonly services: MasterServices;
  /** With sticky placement (fixed at start): the master's acceptors; null when workers accept. */
  private sticky: StickyPlacement | null = null;
  /** What the app's processes leave behind: see process/descendants.ts (null until start). */
  private descendants: Descendants | null = null;
  /** How the last HUP and USR2 went, for `tsgund reload` and `tsgund upgrade` to wait on. */
  private readonly outcomes = new Outcomes();
  private exitResolve!: (code: number) => void;
  /** Resolves with the exit code once the master has stopped. */
  readonly exited = new Promise<number>((resolve) => (this.exitResolve = resolve));

  private readonly signals = new SignalQueue(
    {
      SIGHUP: { what: 'reloading', run: () => this.reload() },
      SIGTERM: { what: 'shutting down gracefully', run: () => void this.shutdown('graceful') },
      SIGINT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
      SIGQUIT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
      SIGTTIN: { run: () => this.resize(1) },
      SIGTTOU: { run: () => this.resize(-1) },
      SIGUSR1: { what: 'reopening log files', run: () => this.onUsr1() },
      SIGUSR2: { run: () => this.onUsr2() },
      SIGWINCH: { run: () => this.onWinch() },
    },
    () => this.log,
    () => this.state.phase === 'stopping',
  );

  constructor(private readonly opts: ArbiterOptions) {
    const { settings } = opts.resolved;
    // resolves -u/-g now: an unknown user fails the start, not the first fork
    this.logFiles = new MasterLogFiles(settings, workerIdentity(settings) ?? undefined);
    this.log = createErrorLog(settings, this.logFiles.errorFile);
    this.transports = new ErrorTransports(this.log);
    this.startHooks = HookRunner.from(opts.resolved.fileConfig, settings, this.log);
    this.upgrade = new Upgrade(this.log, opts.cwd, (seq, outcome) => this.outcomes.record('upgrade', seq, outcome));
    this.services = new MasterServices({
      log: this.log,
      cwd: opts.cwd,
      upgrade: this.upgrade,
      snapshot: () => this.snapshot(),
      workers: () => this.pool.list(),
      changed: () => this.enqueue('SIGHUP'),
    });
    this.pool = wirePool({
      log: () => this.log,
      cwd: opts.cwd,
      logFiles: this.logFiles,
      placement: () => this.placement,
      stats: () => this.services.stats,
      sticky: () => this.sticky !== null,
      piped: () => this.transports.piped,
      forked: (h) => this.transports.attach(h.pid, h.worker.process.stdio[4] as Readable | null),
      targets: () => targetsOf(this.state, this.current, this.candidate),
      stopping: () => this.state.phase === 'stopping',
      ready: () => this.placeWork(),
      exited: (h) => {
        this.descendants?.workerExited(h.pid, h.gen.settings.gracefulTimeout * 1000);
        this.placeWork(h);
      },
    });
  }

  get errorLog(): ErrorLog {
    return this.log;
  }

  get logsToStderr(): boolean {
    return this.settings.errorlog === '-';
  }

  /** The serving generation's settings (the booting one's at start). */
  private get settings(): Settings {
    return (this.current ?? this.candidate)?.settings ?? this.opts.resolved.settings;
  }

  private get hooks(): HookRunner {
    return (this.current ?? this.candidate)?.hooks ?? this.startHooks;
  }

  private get name(): string {
    return this.settings.name + (this.upgrade.isChild ? '.2' : '');
  }

  /** Bind, write the pidfile and boot the first generation; throws a UserError on failure. */
  async start(): Promise<void> {
    const { settings } = this;
    requireApp(settings);
    await this.transports.configure(settings, this.opts.resolved.fileConfig);
    if (settings.umask !== null) process.umask(settings.umask);
    for (const sig of this.signals.signals) handleSignal(sig, () => this.enqueue(sig));
    process.title = `${this.name}: master [${settings.app}]`;
    this.log.info(`Starting tsgund ${VERSION}`);
    await this.startHooks.call('onStarting');
    const { first, inherited } = await firstGeneration(this.opts.resolved, this.startHooks);
    this.candidate = first;
    this.placement = new SlotPlacement(inherited);
    await this.services.claimPidfile(settings);
    for (const l of first.listeners) this.log.info(`Listening at: ${this.url(l)} (${process.pid})`);
    if (settings.sticky === 'ip') this.placeByKernel(first);
    if (settings.sticky === 'forwarded') this.sticky = await startSticky(first, () => this.current, this.log);
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], silent: false });
    // a subreaper before the first fork, so the reaper below knows it has orphans to reap
    this.descendants = Descendants.start(this.log, isClusterWorker);
    this.services.startReaper(); // swept by tick()
    // A ref'd timer keeps the master alive even while it holds only sockets nobody listens on.
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    // just after the workers' check-ins (lib/grid.ts): one wake-up for the tick and their heartbeats
    alignToGrid(this.tickTimer, TICK_MS, 20);
    try {
      await this.services.start(settings);
      const warn = (m: string) => this.log.warning(m);
      await this.boot(first, () => bootWhole(first, this.pool, abortOf(this.state)!.signal, true, warn));
    } catch (err) {
      for (const h of this.pool.list()) h.kill();
      await this.pool.drained(QUICK_STOP_MS);
      finalCleanup(this.teardown());
      throw err;
    }
    this.state = { phase: 'running' };
    // signals that arrived while booting are handled from now on, in order
    void this.signals.loop();
    this.log.info(`Booted ${first.target} worker(s), generation ${first.number}`);
    if (settings.reload) await this.services.watch(settings);
    await this.services.watchCerts(settings);
    notifySystemd('READY=1', `STATUS=serving with ${first.target} workers`);
    await this.hooks.call('whenReady');
  }

  /** Sticky placement by the kernel: every slot socket the first generation needs, listened on in slot order. */
  private placeByKernel(first: Generation): void {
    const kernel = KernelPlacement.start(() => this.settings.backlog, this.log);
    this.placement.kernel = kernel;
    kernel.warnUnplaced(first.listeners);
    this.placement.ensure(first.listeners, first.target);
    this.log.info('Sticky placement by client address: the kernel places each connection (the master does not accept)');
  }

  private url(l: Listener): string {
    return listenerUrl(l, !!this.settings.certfile, protocolsOf(this.settings));
  }

  /** The live state for `tsgund status` and the metrics endpoint. */
  snapshot(): StatusSnapshot {
    const { name, settings, current, candidate, pool, outcomes } = this;
    const placementBlocked = this.sticky?.blocked() ?? null;
    return snapshot({
      ...{ name, settings, cwd: this.opts.cwd, state: this.state.phase },
      current,
      candidate,
      pool,
      placementBlocked,
      outcomes,
    });
  }

  // ---- signal queue ------------------------------------------------------

  enqueue(sig: MasterSignal): void {
    if (sig === 'SIGHUP' || sig === 'SIGUSR2') this.outcomes.requested(sig === 'SIGHUP' ? 'reload' : 'upgrade');
    // A stop must not wait behind a boot (the first one or a reload's), and a
    // newer HUP supersedes a reload (the files changed again): both abort it.
    if (STOP_SIGNALS.has(sig) || (sig === 'SIGHUP' && this.state.phase === 'reloading')) {
      abortOf(this.state)?.abort(sig);
    }
    // a (rolling) reload may take long: these do not wait for it; TTIN and TTOU
    // do, as they apply to the generation the reload leaves serving
    if (this.state.phase === 'reloading' && BESIDE_RELOAD.has(sig)) void this.signals.handleNow(sig);
    else this.signals.push(sig);
  }

  // ---- signal handlers ---------------------------------------------------

  /** TTIN (+1) and TTOU (-1): the serving generation's target, within 1 … MAX_WORKERS. */
  private resize(by: 1 | -1): void {
    const from = this.current!.target;
    const to = from + by;
    if (to > MAX_WORKERS) this.log.info(`Number of workers stays ${from}: the maximum is ${MAX_WORKERS}`);
    else if (to < 1) this.log.info('Number of workers stays 1: already at 1 worker');
    else {
      this.current!.target = to;
      this.log.info(`Number of workers: ${from} -> ${to}`);
      void this.hooks.call('nworkersChanged', { from, to });
      this.pool.manage();
      if (to < from) this.pool.stopSurplus(); // the oldest beyond the new target
    }
  }

  private onUsr1(): void {
    this.logFiles.reopen(this.log); // never throws: the workers get their USR1 whatever happens here
    this.logFiles.handOver(this.log); // before the signal: the descriptors wait in each worker's socket
    for (const h of this.pool.list()) h.signal('SIGUSR1');
    void this.transports.refresh();
    this.services.renewCerts();
  }

  private async onUsr2(): Promise<void> {
    const seq = this.outcomes.begin('upgrade');
    const refusal = this.upgrade.refusal();
    if (refusal) {
      this.log.warning(`USR2 refused: ${refusal}`);
      this.outcomes.record('upgrade', seq, { result: 'failed', reason: `refused: ${refusal}`, detail: '' });
      return;
    }
    await this.hooks.call('preExec');
    this.upgrade.start(this.current!.listeners, this.placement.slots.forHandOver(), seq);
  }

  private onWinch(): void {
    if (hasTerminal()) {
      this.log.info('WINCH ignored: running in a terminal');
      return;
    }
    this.log.info('Stopping all workers (sockets stay open; HUP restarts them)');
    abortOf(this.state)?.abort('SIGWINCH'); // a reload under way stops with them
    this.state = { phase: 'paused' };
    for (const h of this.pool.list()) if (!h.retiring) h.term();
  }

  // ---- generations -------------------------------------------------------

  /** `gen` boots as the candidate; once all of it is ready, it is the serving generation: one pointer. */
  private async boot(gen: Generation, booting: () => Promise<void>): Promise<void> {
    this.candidate = gen;
    try {
      await booting();
    } finally {
      if (this.candidate === gen) this.candidate = null;
    }
    this.current = gen;
  }

  private async reload(): Promise<void> {
    const resume = this.state.phase === 'paused' ? 'paused' : 'running';
    const abort = new AbortController();
    this.state = { phase: 'reloading', abort, resume };
    const { log, logFiles, pool, placement, transports } = this;
    const { stats } = this.services;
    const serving = this.current!;
    const warn = (m: string) => this.log.warning(m);
    const ctx: ReloadContext = {
      ...this.opts,
      ...{ log, logFiles, pool, stats, placement, transports },
      url: (l) => this.url(l),
      boot: (gen) => {
        const paused = this.state.phase === 'reloading' && this.state.resume === 'paused';
        return this.boot(gen, () => bootBeside(gen, serving, pool, abort.signal, paused, warn));
      },
      followSticky: (gen, candidate) =>
        followSticky(this.sticky, this.opts.resolved.settings.sticky, gen, log, candidate),
    };
    const seq = this.outcomes.begin('reload');
    const result = await runReload(ctx, serving, abort.signal);
    if (this.state.phase === 'reloading') this.state = { phase: result.ok ? 'running' : resume };
    // a superseded reload has no outcome of its own: the newer HUP's reload reports
    if (result.ok) this.outcomes.record('reload', seq, { result: 'ok', reason: null, detail: result.detail });
    else if (!result.superseded)
      this.outcomes.record('reload', seq, { result: 'failed', reason: result.reason, detail: '' });
  }

  /**
   * A worker became ready, or exited (`gone`): with reusePort every slot socket needs a worker
   * accepting on it (placement/slot-placement.ts; not while a generation boots), and sticky connections a worker.
   */
  private placeWork(gone?: Worker): void {
    if (!(this.state.phase === 'stopping' || this.candidate || !this.current))
      this.placement.place(this.pool.list(), this.current.listeners);
    if (gone) this.sticky?.onExit(gone.worker);
    else this.sticky?.flush();
  }

  /** One turn of the housekeeping loop: reap orphans, abort silent workers, fix the pool, follow an upgrade. */
  private tick(): void {
    this.services.sweep();
    this.pool.murder();
    this.pool.manage();
    this.placeWork();
    if (this.upgrade.parentGone()) this.services.promote(this.settings, () => this.name);
  }

  // ---- shutdown ----------------------------------------------------------

  private async shutdown(mode: 'graceful' | 'quick'): Promise<void> {
    const stopping = this.state.phase === 'stopping' ? this.state.mode : null;
    const escalate = stopping === 'graceful' && mode === 'quick';
    if (stopping && !escalate) return;
    this.state = { phase: 'stopping', mode };
    notifySystemd('STOPPING=1');
    for (const h of this.pool.list()) mode === 'quick' ? h.quit() : h.term();
    if (escalate) return; // the graceful shutdown already waits and exits
    await shutDown(this.teardown(), mode);
    this.exitResolve(0);
  }

  private teardown(): Teardown {
    const { log, transports, logFiles, pool, services, upgrade, placement, sticky, tickTimer, descendants } = this;
    return {
      ...{ log, transports, logFiles, pool, services, upgrade, placement, sticky, tickTimer, descendants },
      listeners: () => [...new Set([...(this.current?.listeners ?? []), ...(this.candidate?.listeners ?? [])])],
      hooks: () => this.hooks,
      name: () => this.name,
    };
  }
}
