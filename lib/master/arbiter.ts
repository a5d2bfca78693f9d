import cluster from 'node:cluster';
import { HookRunner } from '../config/hooks.js';
import { requireApp, type CommandLine, type Resolved } from '../config/resolve.js';
import type { Settings } from '../config/types.js';
import type { StatusSnapshot } from '../protocol/status.js';
import { handleSignal } from '../early-signals.js';
import type { ErrorLog } from '../log/error-line.js';
import type { MasterErrorLog } from '../log/error-log.js';
import { MasterLogs } from './logs/master-logs.js';
import { VERSION } from '../version.js';
import { type Clock, monotonic } from '../clock.js';
import { heartbeatTiming, WORKER_MAIN } from './pool/fork.js';
import type { Generation } from './lifecycle/generation.js';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { Outcomes } from './lifecycle/outcomes.js';
import { KernelPlacement } from './placement/kernel-placement.js';
import { MasterServices } from './services/master-services.js';
import type { Fork, ForkedProcess, Pool, Worker } from './pool/pool.js';
import { type MasterSignal, SignalQueue, STOP_SIGNALS } from './lifecycle/signal-queue.js';
import { snapshot } from './snapshot.js';
import { notifySystemd } from './process/systemd-notify.js';
import { hasTerminal } from './process/terminal.js';
import { Upgrade } from './process/upgrade.js';
import { Descendants, isClusterWorker } from './process/descendants.js';
import { finalCleanup, shutDown, type Teardown } from './lifecycle/shutdown.js';
import { QUICK_STOP_MS } from './pool/worker-handle.js';
import { wirePool } from './pool/worker-events.js';
import { Ticker } from './ticker.js';

/** Signals handled at once while a reload is under way, rather than queued behind it. */
const BESIDE_RELOAD = new Set<MasterSignal>(['SIGUSR1', 'SIGUSR2', 'SIGWINCH']);

/** Where the master meets the machine: the defaults are the real ones; an in-process test gives its own. */
export interface MasterHost {
  /** Forks a worker; null: node:cluster's (pool/fork.ts). */
  fork: Fork<ForkedProcess> | null;
  /** The monotonic clock the pool keeps time with. */
  clock: Clock;
  /** Installs a signal's handler (on this process: early-signals.ts). */
  onSignal(sig: MasterSignal, handler: () => void): void;
  /** Does the master have a controlling terminal (WINCH then means "resized")? */
  hasTerminal(): boolean;
}

const REAL_HOST: MasterHost = { fork: null, clock: monotonic, onSignal: handleSignal, hasTerminal };

export interface ArbiterOptions {
  cli: CommandLine;
  envArgs: CommandLine | null;
  resolved: Resolved;
  cwd: string;
  host?: Partial<MasterHost>;
}

/**
 * The master: signals, the tick and the services. Signal handlers only
 * enqueue; the signal queue handles one signal at a time, in order, each by
 * its entry in the table below. The generations, and every operation on
 * them, are the lifecycle's (lifecycle/lifecycle.ts); the workers are the
 * pool's (pool/pool.ts).
 */
export class Arbiter {
  /** The log files (opened as root, inherited by workers), the error log's transports, USR1: see logs/master-logs.ts. */
  private readonly logs: MasterLogs;
  private readonly log: MasterErrorLog;
  /** The hooks of the configuration the master started with (onStarting runs before any generation exists). */
  private readonly startHooks: HookRunner;
  /** The generations and every operation on them: the first boot, reload, pause, resize, stop. */
  private readonly lifecycle: Lifecycle;
  private readonly pool: Pool;
  private readonly ticker = new Ticker(() => this.tick());
  private readonly upgrade: Upgrade;
  private readonly services: MasterServices;
  /** What the app's processes leave behind: see process/descendants.ts (null until start). */
  private descendants: Descendants | null = null;
  /** How the last HUP and USR2 went, for `tsgund reload` and `tsgund upgrade` to wait on. */
  private readonly outcomes = new Outcomes();
  private exitResolve!: (code: number) => void;
  /** Resolves with the exit code once the master has stopped. */
  readonly exited = new Promise<number>((resolve) => (this.exitResolve = resolve));

  private readonly signals = new SignalQueue(
    {
      SIGHUP: { what: 'reloading', run: () => this.onHup() },
      SIGTERM: { what: 'shutting down gracefully', run: () => void this.shutdown('graceful') },
      SIGINT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
      SIGQUIT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
      SIGTTIN: { run: () => this.lifecycle.resize(1) },
      SIGTTOU: { run: () => this.lifecycle.resize(-1) },
      SIGUSR1: { what: 'reopening log files', run: () => this.onUsr1() },
      SIGUSR2: { run: () => this.onUsr2() },
      SIGWINCH: { run: () => this.onWinch() },
    },
    () => this.log,
    () => this.lifecycle.state.phase === 'stopping',
  );

  private readonly host: MasterHost;

  constructor(private readonly opts: ArbiterOptions) {
    const { settings } = opts.resolved;
    this.host = { ...REAL_HOST, ...opts.host };
    // resolves -u/-g now: an unknown user fails the start, not the first fork
    this.logs = new MasterLogs(settings);
    this.log = this.logs.log;
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
      fork: this.host.fork,
      clock: this.host.clock,
      log: () => this.log,
      cwd: opts.cwd,
      logs: this.logs,
      placement: () => this.lifecycle.placement,
      stats: () => this.services.stats,
      sticky: () => this.lifecycle.sticky !== null,
      targets: () => this.lifecycle.targets(),
      stopping: () => this.lifecycle.state.phase === 'stopping',
      appServesTls: (gen) => this.lifecycle.appServesTls(gen),
      ready: () => this.placeWork(),
      exited: (h) => {
        this.ticker.quicken();
        this.descendants?.workerExited(h.pid, h.gen.settings.gracefulTimeout * 1000);
        this.placeWork(h);
      },
    });
    const { cli, envArgs, cwd } = opts;
    const { log, logs, pool } = this;
    const stats = () => this.services.stats;
    this.lifecycle = new Lifecycle({ cli, envArgs, cwd, log, logs, pool, stats });
  }

  get errorLog(): ErrorLog {
    return this.log;
  }

  get logsToStderr(): boolean {
    return this.settings.errorlog === '-';
  }

  private get current(): Generation | null {
    return this.lifecycle.current;
  }

  private get candidate(): Generation | null {
    return this.lifecycle.candidate;
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
    await this.logs.open(settings, this.opts.resolved.fileConfig);
    if (settings.umask !== null) process.umask(settings.umask);
    for (const sig of this.signals.signals) this.host.onSignal(sig, () => this.enqueue(sig));
    process.title = `${this.name}: master [${settings.app}]`;
    this.log.info(`Starting tsgund ${VERSION}`);
    await this.startHooks.call('onStarting');
    const first = await this.lifecycle.bindFirst(this.opts.resolved, this.startHooks);
    await this.services.claimPidfile(settings);
    for (const l of first.listeners) this.log.info(`Listening at: ${this.lifecycle.url(l)} (${process.pid})`);
    if (!first.listeners.length) this.log.info('Nothing to bind: the app runs in the background, ready once loaded');
    if (settings.sticky === 'ip') this.placeByKernel(first);
    if (settings.sticky === 'forwarded') await this.lifecycle.startSticky(first);
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], silent: false });
    // a subreaper before the first fork, so the reaper below knows it has orphans to reap
    this.descendants = Descendants.start(this.log, isClusterWorker);
    this.services.startReaper(); // swept by tick()
    this.ticker.start();
    try {
      await this.services.start(settings);
      await this.lifecycle.bootFirst(first);
    } catch (err) {
      for (const h of this.pool.list()) h.kill();
      await this.pool.drained(QUICK_STOP_MS);
      finalCleanup(this.teardown());
      throw err;
    }
    // signals that arrived while booting are handled from now on, in order
    void this.signals.loop();
    // after a lenient boot timeout only some are ready (its warning said so): the line counts those
    const ready = this.pool.list().filter((h) => h.generation === first.number && h.readyAt).length;
    this.log.info(
      `Booted ${ready < first.target ? `${ready} of ${first.target}` : ready} worker(s), generation ${first.number}`,
    );
    if (settings.reload) await this.services.watch(settings);
    await this.services.watchCerts(settings);
    notifySystemd('READY=1', `STATUS=serving with ${first.target} workers`);
    await this.hooks.call('whenReady');
  }

  /** Sticky placement by the kernel: every slot socket the first generation needs, listened on in slot order. */
  private placeByKernel(first: Generation): void {
    const kernel = KernelPlacement.start(() => this.settings.backlog, this.log);
    const { placement } = this.lifecycle;
    placement.kernel = kernel;
    kernel.warnUnplaced(first.listeners);
    placement.ensure(first.listeners, first.target);
    this.log.info('Sticky placement by client address: the kernel places each connection (the master does not accept)');
  }

  /** The live state for `tsgund status` and the metrics endpoint. */
  snapshot(): StatusSnapshot {
    const { name, settings, current, candidate, pool, outcomes } = this;
    const state = this.lifecycle.state.phase;
    const placementBlocked = this.lifecycle.sticky?.blocked() ?? null;
    return snapshot({
      ...{ name, settings, cwd: this.opts.cwd, ecosystem: this.opts.cli.ecosystem ?? null, state },
      ...{ current, candidate, pool, placementBlocked, outcomes },
    });
  }

  // ---- signal queue ------------------------------------------------------

  enqueue(sig: MasterSignal): void {
    this.ticker.quicken();
    if (sig === 'SIGHUP' || sig === 'SIGUSR2') this.outcomes.requested(sig === 'SIGHUP' ? 'reload' : 'upgrade');
    // A stop must not wait behind a boot (the first one or a reload's), and a
    // newer HUP supersedes a reload (the files changed again): both abort it.
    const { phase } = this.lifecycle.state;
    if (STOP_SIGNALS.has(sig) || (sig === 'SIGHUP' && phase === 'reloading')) this.lifecycle.abort(sig);
    // a (rolling) reload may take long: these do not wait for it; TTIN and TTOU
    // do, as they apply to the generation the reload leaves serving
    if (phase === 'reloading' && BESIDE_RELOAD.has(sig)) void this.signals.handleNow(sig);
    else this.signals.push(sig);
  }

  // ---- signal handlers ---------------------------------------------------

  /** A reload, its outcome recorded for `tsgund reload` (a superseded one has none: the newer HUP reports). */
  private async onHup(): Promise<void> {
    const seq = this.outcomes.begin('reload');
    const result = await this.lifecycle.reload();
    // the new generation's certfile and keyfile are the ones to watch from now on
    if (result.ok) await this.services.watchCerts(this.settings);
    if (result.ok) this.outcomes.record('reload', seq, { result: 'ok', reason: null, detail: result.detail });
    else if (!result.superseded)
      this.outcomes.record('reload', seq, { result: 'failed', reason: result.reason, detail: '' });
  }

  private onUsr1(): void {
    this.logs.reopen(); // never throws, and before the signal: the descriptors wait in each worker's socket
    for (const h of this.pool.list()) h.signal('SIGUSR1');
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
    this.upgrade.start(this.current!.listeners, this.lifecycle.placement.slots.forHandOver(), seq);
  }

  private onWinch(): void {
    if (this.host.hasTerminal()) {
      this.log.info('WINCH ignored: running in a terminal');
      return;
    }
    this.log.info('Stopping all workers (sockets stay open; HUP restarts them)');
    this.lifecycle.pause();
  }

  // ---- placement and the tick -------------------------------------------

  /**
   * A worker became ready, or exited (`gone`): with reusePort every slot socket needs a worker
   * accepting on it (placement/slot-placement.ts; not while a generation boots), and sticky connections a worker.
   */
  private placeWork(gone?: Worker): void {
    const { state, candidate, current, placement, sticky } = this.lifecycle;
    if (!(state.phase === 'stopping' || candidate || !current)) placement.place(this.pool.list(), current.listeners);
    if (gone) sticky?.onExit(gone.worker);
    else sticky?.flush();
  }

  /** One turn of the housekeeping loop: reap orphans, abort silent workers, fix the pool, follow an upgrade. */
  private tick(): void {
    this.services.sweep();
    this.pool.murder();
    const settled = this.pool.manage();
    this.placeWork();
    if (this.upgrade.parentGone()) this.services.promote(this.settings, () => this.name);
    this.pace(settled);
  }

  /**
   * While the pool is steady the tick comes once a worker check-in (1 s, less
   * with a short timeout): a silent worker is still aborted within a check-in
   * of its timeout. Anything under way, a signal or an exit quickens it.
   */
  private pace(settled: boolean): void {
    const { phase } = this.lifecycle.state;
    const steady = settled && (phase === 'running' || phase === 'paused') && !this.candidate && this.pool.steady();
    this.ticker.pace(steady, heartbeatTiming(this.settings.timeout).heartbeatMs);
  }

  // ---- shutdown ----------------------------------------------------------

  private async shutdown(mode: 'graceful' | 'quick'): Promise<void> {
    const stopping = this.lifecycle.stop(mode);
    const escalate = stopping === 'graceful' && mode === 'quick';
    if (stopping && !escalate) return;
    notifySystemd('STOPPING=1');
    for (const h of this.pool.list()) mode === 'quick' ? h.quit() : h.term();
    if (escalate) return; // the graceful shutdown already waits and exits
    await shutDown(this.teardown(), mode);
    this.exitResolve(0);
  }

  private teardown(): Teardown {
    const { logs, pool, services, upgrade, ticker, descendants } = this;
    const { placement, sticky } = this.lifecycle;
    return {
      ...{ logs, pool, services, upgrade, placement, sticky, ticker, descendants },
      listeners: () => [...new Set([...(this.current?.listeners ?? []), ...(this.candidate?.listeners ?? [])])],
      hooks: () => this.hooks,
      name: () => this.name,
    };
  }
}
