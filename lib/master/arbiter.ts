import type { FSWatcher } from 'chokidar';
import cluster from 'node:cluster';
import { HookRunner } from '../config/hooks.js';
import { requireApp, type CommandLine, type Resolved } from '../config/resolve.js';
import { MAX_WORKERS } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { controlSocketPath } from '../control/protocol.js';
import { startControlServer, type ControlServer } from '../control/server.js';
import type { StatusSnapshot } from '../control/status.js';
import { handleSignal } from '../early-signals.js';
import { oneLine } from '../errors.js';
import { unlinkUnixSocket, type Listener } from '../listeners/handles.js';
import { FDS_ENV, REUSEPORT_ENV, bindAll, inheritedFromParent } from '../listeners/inherited.js';
import type { ErrorLog } from '../log/error-line.js';
import { createErrorLog } from '../log/error-log.js';
import { VERSION } from '../version.js';
import { parseAppSpec } from '../worker/app-loader.js';
import { monotonic } from './clock.js';
import { clusterFork, WORKER_MAIN } from './fork.js';
import { Generation } from './generation.js';
import { loadCandidate } from './candidate.js';
import { SlotPlacement } from './guests.js';
import { MasterLogFiles } from './log-files.js';
import { MasterStats } from './master-stats.js';
import { Pidfile } from './pidfile.js';
import { Pool, type Targets } from './pool.js';
import { unixSocketAccess, workerIdentity } from './privileges.js';
import { Reaper } from './reaper.js';
import { type MasterSignal, SignalQueue, STOP_SIGNALS } from './signal-queue.js';
import { listenerUrl, snapshot } from './snapshot.js';
import { notifySystemd } from './systemd-notify.js';
import { hasTerminal } from './terminal.js';
import { Upgrade } from './upgrade.js';
import { QUICK_STOP_MS } from './worker-handle.js';
import { workerIntake } from './worker-events.js';

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

const TICK_MS = 250;

export interface ArbiterOptions {
  cli: CommandLine;
  envArgs: CommandLine | null;
  resolved: Resolved;
  cwd: string;
}

/**
 * The master: signals, generations and the tick. Signal handlers only
 * enqueue; `handleSignals` handles one signal at a time, in order, each by the
 * handler named after it (onHup, onTtin, …). The workers are the pool's.
 */
export class Arbiter {
  private readonly log: ErrorLog;
  /** Opened here, as root, and inherited by workers: see log-files.ts. */
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
  private watcher: FSWatcher | null = null;
  private control: ControlServer | null = null;
  /** The statsBind listener and its metrics (null unless statsBind is set). */
  private stats: MasterStats | null = null;
  private pidfile: Pidfile | null = null;
  private readonly upgrade: Upgrade;
  /** Reaps orphaned processes when the master is PID 1 (a container without --init); null otherwise. */
  private reaper: Reaper | null = null;
  private exitResolve!: (code: number) => void;
  /** Resolves with the exit code once the master has stopped. */
  readonly exited = new Promise<number>((resolve) => (this.exitResolve = resolve));

  private readonly signals = new SignalQueue(
    {
      SIGHUP: { what: 'reloading', run: () => this.onHup() },
      SIGTERM: { what: 'shutting down gracefully', run: () => void this.shutdown('graceful') },
      SIGINT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
      SIGQUIT: { what: 'shutting down now', run: () => void this.shutdown('quick') },
      SIGTTIN: { run: () => this.onTtin() },
      SIGTTOU: { run: () => this.onTtou() },
      SIGUSR1: { what: 'reopening log files', run: () => this.onUsr1() },
      SIGUSR2: { run: () => this.onUsr2() },
      SIGWINCH: { run: () => this.onWinch() },
    },
    () => this.log,
    () => this.state.phase === 'stopping',
  );

  /** Checks every message from a worker, then acts on it (see worker-events.ts). */
  private readonly intake = workerIntake({
    log: () => this.log,
    pool: () => this.pool,
    placement: () => this.placement,
    stats: () => this.stats,
    ready: () => this.placeGuests(),
  });

  constructor(private readonly opts: ArbiterOptions) {
    const { settings } = opts.resolved;
    // resolves -u/-g now: an unknown user fails the start, not the first fork
    this.logFiles = new MasterLogFiles(settings, workerIdentity(settings) ?? undefined);
    this.log = createErrorLog(settings, this.logFiles.errorFile);
    this.startHooks = HookRunner.from(opts.resolved.fileConfig, settings, this.log);
    this.upgrade = new Upgrade(this.log, opts.cwd);
    const fork = clusterFork({
      cwd: opts.cwd,
      logFiles: this.logFiles,
      placement: () => this.placement,
      stats: () => this.stats !== null,
      stopping: () => this.state.phase === 'stopping',
    });
    this.pool = new Pool(fork, monotonic, {
      log: () => this.log,
      targets: () => this.targets(),
      stopping: () => this.state.phase === 'stopping',
      restart: (cause) => this.stats?.metrics.restart(cause),
      forked: (h) => {
        this.intake.attach(h);
        this.log.info(`Booting worker with pid: ${h.pid} (generation ${h.generation})`);
        void h.gen.hooks.call('postFork', { pid: h.pid, id: h.id, generation: h.generation });
      },
      exited: (h, _kind, code, signal) => {
        this.stats?.app.forget(h.pid);
        this.placeGuests();
        void h.gen.hooks.call('childExit', { pid: h.pid, id: h.id, generation: h.generation, code, signal });
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
    if (settings.umask !== null) process.umask(settings.umask);
    for (const sig of this.signals.signals) handleSignal(sig, () => this.enqueue(sig));
    process.title = `${this.name}: master [${settings.app}]`;
    this.log.info(`Starting tsgund ${VERSION}`);
    await this.startHooks.call('onStarting');
    const inherited = inheritedFromParent(process.env);
    const listeners = await bindAll(settings.bind, [], process.env, settings.reusePort, unixSocketAccess(settings));
    const first = new Generation(1, this.opts.resolved, this.startHooks, listeners);
    this.candidate = first;
    this.placement = new SlotPlacement(inherited);
    delete process.env[FDS_ENV];
    delete process.env[REUSEPORT_ENV];
    if (settings.pidfile) {
      this.pidfile = new Pidfile(settings.pidfile + (this.upgrade.isChild ? '.2' : ''), settings.controlSocket);
      await this.pidfile.claim();
    }
    for (const l of first.listeners) this.log.info(`Listening at: ${this.url(l)} (${process.pid})`);
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], silent: false });
    this.reaper = Reaper.forMaster(this.log); // swept by tick()
    // A ref'd timer keeps the master alive even while it holds only sockets nobody listens on.
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    try {
      await this.startServices();
      await this.bootGeneration(first, this.abortOf(this.state)!.signal, true);
    } catch (err) {
      for (const h of this.pool.list()) h.kill();
      await this.pool.drained(QUICK_STOP_MS);
      this.finalCleanup();
      throw err;
    }
    this.state = { phase: 'running' };
    // signals that arrived while booting are handled from now on, in order
    void this.signals.loop();
    this.log.info(`Booted ${first.target} worker(s), generation ${first.number}`);
    if (settings.reload) await this.startWatching();
    notifySystemd('READY=1', `STATUS=serving with ${first.target} workers`);
    await this.hooks.call('whenReady');
  }

  /** The control socket and the statsBind listener. */
  private async startServices(): Promise<void> {
    const { settings } = this;
    const controlPath = controlSocketPath(settings.controlSocket, settings.pidfile, this.upgrade.isChild);
    const status = () => this.snapshot();
    if (controlPath)
      this.control = await startControlServer(
        controlPath,
        status,
        this.log,
        async () => this.stats?.appStatus() ?? null,
      );
    if (settings.statsBind)
      this.stats = await MasterStats.start(
        settings.statsBind,
        status,
        () => this.pool.list(),
        this.log,
        this.upgrade.isChild,
      );
  }

  private async startWatching(): Promise<void> {
    const { watchForReload } = await import('./file-watcher.js'); // development only: load chokidar on demand
    const { module } = parseAppSpec(this.settings.app!);
    const onChange = (file: string) => {
      this.log.info(`${file} changed, reloading`);
      this.enqueue('SIGHUP');
    };
    const { chdir, reloadExtraFiles } = this.settings;
    this.watcher = watchForReload(module, chdir ?? this.opts.cwd, reloadExtraFiles, onChange, () =>
      this.log.info('Watching for file changes (--reload)'),
    );
  }

  private url(l: Listener): string {
    return listenerUrl(l, !!this.settings.certfile);
  }

  /** The live state for `tsgund status` and the metrics endpoint. */
  snapshot(): StatusSnapshot {
    const { current, candidate, settings } = this;
    const ignoredMessages = this.intake.ignored;
    const [state, workers, restarts] = [this.state.phase, this.pool.list(), this.pool.restarts];
    return snapshot({
      name: this.name,
      settings,
      cwd: this.opts.cwd,
      state,
      current,
      candidate,
      workers,
      restarts,
      ignoredMessages,
    });
  }

  // ---- signal queue ------------------------------------------------------

  enqueue(sig: MasterSignal): void {
    // A stop must not wait behind a boot (the first one or a reload's), and a
    // newer HUP supersedes a reload (the files changed again): both abort it.
    if (STOP_SIGNALS.has(sig) || (sig === 'SIGHUP' && this.state.phase === 'reloading')) {
      this.abortOf(this.state)?.abort(sig);
    }
    this.signals.push(sig);
  }

  private abortOf(state: MasterState): AbortController | null {
    return state.phase === 'starting' || state.phase === 'reloading' ? state.abort : null;
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
    const { target } = this.current!;
    if (target >= MAX_WORKERS) this.log.info(`Number of workers stays ${target}: the maximum is ${MAX_WORKERS}`);
    else this.setTarget(target + 1);
  }

  private onTtou(): void {
    const { target } = this.current!;
    if (target <= 1) this.log.info('Number of workers stays 1: already at 1 worker');
    else {
      this.setTarget(target - 1);
      this.pool.stopSurplus();
    }
  }

  private onUsr1(): void {
    this.logFiles.reopen(this.log); // never throws: the workers get their USR1 whatever happens here
    for (const h of this.pool.list()) h.signal('SIGUSR1');
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
    this.upgrade.start(this.current!.listeners, this.placement.slots.forHandOver());
  }

  private onWinch(): void {
    if (hasTerminal()) {
      this.log.info('WINCH ignored: running in a terminal');
      return;
    }
    this.log.info('Stopping all workers (sockets stay open; HUP restarts them)');
    this.state = { phase: 'paused' };
    for (const h of this.pool.list()) if (!h.retiring) h.term();
  }

  // ---- generations -------------------------------------------------------

  private setTarget(to: number): void {
    const from = this.current!.target;
    this.current!.target = to;
    this.log.info(`Number of workers: ${from} -> ${to}`);
    void this.hooks.call('nworkersChanged', { from, to });
    this.pool.manage();
  }

  /** Which generations want workers: the serving one (unless paused or stopping) and a booting one. */
  private targets(): Targets {
    const { state } = this;
    const paused = state.phase === 'paused' || (state.phase === 'reloading' && state.resume === 'paused');
    const stopping = state.phase === 'stopping';
    return {
      serving: stopping || paused ? null : this.current,
      booting: !stopping && this.candidate?.booting ? this.candidate : null,
      mayStop: state.phase === 'running',
    };
  }

  /**
   * Boot a whole generation and wait until every worker of it is ready; dead
   * workers are replaced meanwhile (see GenerationBoot for when it fails).
   * Only then does it become the serving generation: one pointer.
   */
  private async bootGeneration(gen: Generation, signal: AbortSignal, lenient: boolean): Promise<void> {
    this.candidate = gen;
    const booted = gen.startBoot(lenient, signal, (m) => this.log.warning(m));
    this.pool.manage();
    try {
      await booted;
    } catch (err) {
      gen.drain(); // TERM, never QUIT: see Generation.drain
      throw err;
    } finally {
      if (this.candidate === gen) this.candidate = null;
    }
    this.current = gen;
  }

  private async reload(): Promise<void> {
    const resume = this.state.phase === 'paused' ? 'paused' : 'running';
    const abort = new AbortController();
    this.state = { phase: 'reloading', abort, resume };
    const ok = await this.reloadWith(abort.signal);
    if (this.state.phase === 'reloading') this.state = { phase: ok ? 'running' : resume };
  }

  /** Returns whether the candidate took over. */
  private async reloadWith(signal: AbortSignal): Promise<boolean> {
    const serving = this.current!;
    const candidate = await this.loadCandidate(serving, signal);
    if (!candidate) return false;
    await candidate.hooks.call('onReload');
    this.logFiles.reopen(this.log);
    try {
      await this.bootGeneration(candidate, signal, false);
    } catch (err) {
      const superseded = signal.reason === 'SIGHUP';
      this.log[superseded ? 'info' : 'error'](
        `reload ${superseded ? 'abandoned' : 'failed'}, the running workers keep serving: ${oneLine(err)}`,
      );
      if (!superseded) this.stats?.metrics.reload(false);
      // everything the candidate created goes: its workers drain (above), its sockets and log files close
      this.dropListeners(candidate.listeners, serving.listeners);
      this.logFiles.keepOnly(serving.settings);
      return false;
    }
    this.dropListeners(serving.listeners, candidate.listeners);
    this.logFiles.keepOnly(candidate.settings);
    // the old generations, with any replacement they got while the new one booted
    for (const gen of new Set(this.pool.list().map((h) => h.gen))) if (gen !== candidate) gen.drain();
    this.placement.forgetGuests(); // the old generation, guests included, stops accepting
    this.pool.manage();
    this.log.info(`Reloaded: generation ${candidate.number} serving with ${candidate.target} worker(s)`);
    this.stats?.metrics.reload(true);
    return true;
  }

  /** The candidate of a reload; null (logged) if its configuration cannot be used. */
  private async loadCandidate(serving: Generation, signal: AbortSignal): Promise<Generation | null> {
    // a generation's number is above every one that still has workers
    const number = Math.max(serving.number, ...this.pool.list().map((h) => h.generation)) + 1;
    const { cli, envArgs, cwd } = this.opts;
    const ctx = { cli, envArgs, cwd, log: this.log, logFiles: this.logFiles, url: (l: Listener) => this.url(l) };
    try {
      return await loadCandidate(ctx, serving, number, signal);
    } catch (err) {
      this.log.error(`reload failed, keeping the running workers and configuration: ${oneLine(err)}`);
      this.stats?.metrics.reload(false);
      return null;
    }
  }

  /** Close sockets of `from` that `keep` no longer uses. */
  private dropListeners(from: Listener[], keep: Listener[]): void {
    for (const l of from) {
      if (keep.includes(l)) continue;
      this.log.info(`Closing listener ${l.label}`);
      this.placement.slots.drop(l);
      l.handle.close();
    }
  }

  /** With reusePort, every slot socket needs a worker accepting on it (see guests.ts); not while a generation boots. */
  private placeGuests(): void {
    if (this.state.phase === 'stopping' || this.candidate || !this.current) return;
    this.placement.place(this.pool.list(), this.current.listeners);
  }

  /** One turn of the housekeeping loop: reap orphans, abort silent workers, fix the pool, follow an upgrade. */
  private tick(): void {
    this.reaper?.sweep();
    this.pool.murder();
    this.pool.manage();
    this.placeGuests();
    if (this.upgrade.parentGone()) this.promote();
  }

  /** The old master exited: this one takes its pidfile, control socket and name. */
  private promote(): void {
    const { pidfile, controlSocket, app } = this.settings;
    if (this.pidfile && pidfile) this.pidfile.moveTo(pidfile);
    this.upgrade.promote();
    const controlPath = controlSocketPath(controlSocket, pidfile);
    if (controlPath) this.control?.moveTo(controlPath);
    process.title = `${this.name}: master [${app}]`;
    this.log.info(`Old master exited; this master (${process.pid}) is now ${this.name}`);
    notifySystemd('READY=1');
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
    this.closeListeners();
    // every worker is SIGKILLed by its handle when its grace runs out: this bound is a safety net
    const grace = Math.max(0, ...this.pool.list().map((h) => h.gen.settings.gracefulTimeout * 1000));
    await this.pool.drained((mode === 'quick' ? QUICK_STOP_MS : grace) + 1000);
    await this.hooks.call('onExit');
    this.finalCleanup();
    this.log.info(`Shutting down: ${this.name} master (${process.pid})`);
    await Promise.all([this.log.close(), this.logFiles.close()]);
    this.exitResolve(0);
  }

  /** Every socket of the serving and the booting generation. */
  private listeners(): Listener[] {
    return [...new Set([...(this.current?.listeners ?? []), ...(this.candidate?.listeners ?? [])])];
  }

  /**
   * Stop holding the sockets so that, once the workers have closed theirs too,
   * new connections are refused. Closing a unix socket handle that bound its
   * path unlinks the path, so those stay open while another master serves on them.
   */
  private closeListeners(): void {
    const shared = this.upgrade.otherMasterAlive();
    for (const l of this.listeners()) {
      if (shared && l.unixPath) continue;
      this.placement.slots.drop(l);
      l.handle.close();
    }
  }

  private finalCleanup(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    void this.watcher?.close();
    this.pool.close();
    this.pidfile?.remove();
    this.control?.close();
    this.stats?.close();
    // a unix socket path stays while another master (old or new) still serves on it
    if (!this.upgrade.otherMasterAlive()) for (const l of this.listeners()) unlinkUnixSocket(l);
  }
}
