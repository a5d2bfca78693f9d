// The master's lifecycle in one owner (gunicorn's Arbiter.reload and
// manage_workers, puma's phased restart): the serving generation, the one
// booting, the phase the master is in, and every operation that changes
// them: the first boot, a reload (HUP) and its rollout, pause (WINCH),
// resize (TTIN/TTOU) and the stop. It alone writes a generation's state
// (target, cap, boot); the pool asks it which generations want workers.
//
// A HUP, top to bottom: reload() → reloadFrom(): load the candidate's
// configuration and bind its sockets (loadCandidate), follow sticky
// placement, onReload, the logs (MasterLogs.apply); boot the candidate
// beside the serving generation (bootBeside: all at once, or in batches by
// rollOut, each batch's workers spawned by pool.manage()); then either take
// over (the old generations drain) or abandon it (its workers drain, the
// serving generation is restored to full size).

import { surgeOf } from '../../config/surge.js';
import { HookRunner } from '../../config/hooks.js';
import { requireApp, resolveSettings, type CommandLine, type Resolved } from '../../config/resolve.js';
import { MAX_WORKERS } from '../../config/settings.js';
import type { Settings } from '../../config/types.js';
import { oneLine } from '../../errors.js';
import type { Listener } from '../../listeners/handles.js';
import { listenerUrl, protocolsOf } from '../../listeners/listener-url.js';
import { bindAll } from '../../listeners/inherited.js';
import type { MasterErrorLog } from '../../log/error-log.js';
import type { MasterLogs } from '../logs/master-logs.js';
import { SlotPlacement } from '../placement/slot-placement.js';
import type { StickyPlacement } from '../placement/sticky-placement.js';
import { followSticky, startSticky } from '../placement/sticky-follow.js';
import type { Pool, Targets } from '../pool/pool.js';
import { unixSocketAccess } from '../process/privileges.js';
import { notifySystemd } from '../process/systemd-notify.js';
import type { MasterStats } from '../services/master-stats.js';
import { firstGeneration, Generation, type GenerationState, initialState } from './generation.js';
import { abortReason, GenerationBoot, settleWithin } from './generation-boot.js';
import { abortOf, type MasterState, targetsOf } from './master-state.js';
import { describeChanges } from './setting-changes.js';
import { describeProgress, replacedFirst, RolloutFailure, type RolloutProgress, rolloutStep } from './rollout.js';

/** What the owner works with: the configuration's sources, the logs, the pool. */
export interface LifecycleDeps {
  cli: CommandLine;
  envArgs: CommandLine | null;
  cwd: string;
  log: MasterErrorLog;
  /** The log files and transports: a candidate's paths opened, its transports made (kept if that fails). */
  logs: MasterLogs;
  pool: Pool;
  /** The statsBind listener's metrics, once the services started (null without statsBind). */
  stats(): MasterStats | null;
}

const DRAIN_POLL_MS = 20;

/** How a reload ended: `superseded` when a newer HUP took over (its own outcome follows). */
export type ReloadResult = { ok: true; detail: string } | { ok: false; superseded: boolean; reason: string };

export class Lifecycle {
  private phase: MasterState = { phase: 'starting', abort: new AbortController() };
  /** The generation serving (null until the first one booted). */
  private serving: Generation | null = null;
  /** The generation booting: the first one, or a reload's candidate. */
  private booting: Generation | null = null;
  /** The write side of every generation this owner made. */
  private readonly states = new WeakMap<Generation, GenerationState>();
  /** With reusePort: one socket per worker slot for each TCP bind, and the guests on them. */
  private slotPlacement = new SlotPlacement(new Map());
  /** With sticky placement by X-Forwarded-For (fixed at start): the master's acceptors; null when workers accept. */
  private stickyPlacement: StickyPlacement | null = null;
  /** The sticky mode the master started with: a HUP cannot change it. */
  private stickyMode: Settings['sticky'] = 'none';

  constructor(private readonly deps: LifecycleDeps) {}

  get state(): MasterState {
    return this.phase;
  }

  get current(): Generation | null {
    return this.serving;
  }

  get candidate(): Generation | null {
    return this.booting;
  }

  get placement(): SlotPlacement {
    return this.slotPlacement;
  }

  get sticky(): StickyPlacement | null {
    return this.stickyPlacement;
  }

  /** Which generations want workers now (what the pool reconciles against). */
  targets(): Targets {
    return targetsOf(this.phase, this.serving, this.booting);
  }

  /** A worker of `gen` said its app serves its own TLS server: `gen`'s listeners are https:// URLs. */
  appServesTls(gen: Generation): void {
    this.write(gen).appTls = true;
  }

  /** Abort the boot or reload under way, if any (a stop signal, a newer HUP, WINCH). */
  abort(reason: string): void {
    abortOf(this.phase)?.abort(reason);
  }

  // ---- start -------------------------------------------------------------

  /** Bind the first generation's sockets (or take them over from an old master); it is the candidate. */
  async bindFirst(resolved: Resolved, hooks: HookRunner): Promise<Generation> {
    const state = initialState(resolved.settings);
    const { first, inherited } = await firstGeneration(resolved, hooks, state);
    this.states.set(first, state);
    this.booting = first;
    this.stickyMode = resolved.settings.sticky;
    this.slotPlacement = new SlotPlacement(inherited);
    return first;
  }

  /** With sticky placement: the master accepts on the first generation's binds from now on. */
  async startSticky(first: Generation): Promise<void> {
    this.stickyPlacement = await startSticky(first, () => this.serving, this.deps.pool, this.deps.log);
  }

  /** Boot the first generation (lenient: see GenerationBoot); the master runs once it serves. */
  async bootFirst(first: Generation): Promise<void> {
    const { signal } = abortOf(this.phase)!;
    await this.boot(first, () => this.bootWhole(first, signal, true));
    this.phase = { phase: 'running' };
  }

  // ---- reload (HUP) ------------------------------------------------------

  /** A HUP: how it ended (`superseded` when a newer HUP took over, whose own outcome follows). */
  async reload(): Promise<ReloadResult> {
    const resume = this.phase.phase === 'paused' ? 'paused' : 'running';
    const abort = new AbortController();
    this.phase = { phase: 'reloading', abort, resume };
    const serving = this.serving!;
    notifySystemd('RELOADING=1');
    const result = await this.reloadFrom(serving, abort.signal).finally(() => notifySystemd('READY=1'));
    // superseded by a newer HUP, the serving generation keeps the size it came down to (see rollout.ts)
    if (!result.ok && abort.signal.reason !== 'SIGHUP') {
      this.write(serving).cap = null;
      this.deps.pool.manage();
    }
    if (this.phase.phase === 'reloading') this.phase = { phase: result.ok ? 'running' : resume };
    return result;
  }

  /** Reload from `serving`: whether a candidate took over, and if not, why. */
  private async reloadFrom(serving: Generation, signal: AbortSignal): Promise<ReloadResult> {
    const { log, logs } = this.deps;
    const candidate = await this.loadOrLog(serving, signal);
    if (typeof candidate === 'string') return { ok: false, superseded: false, reason: candidate };
    await followSticky(this.stickyPlacement, this.stickyMode, candidate, log, true);
    await candidate.hooks.call('onReload');
    await logs.apply(candidate.settings, candidate.resolved.fileConfig);
    try {
      const paused = this.phase.phase === 'reloading' && this.phase.resume === 'paused';
      await this.boot(candidate, () => this.bootBeside(candidate, serving, signal, paused));
    } catch (err) {
      return await this.abandon(candidate, serving, signal, err);
    }
    return { ok: true, detail: this.takeOver(candidate, serving) };
  }

  /** The candidate serves: the old generations drain, with any replacement they got meanwhile. */
  private takeOver(candidate: Generation, serving: Generation): string {
    const { log, logs, pool } = this.deps;
    this.dropListeners(serving.listeners, candidate.listeners);
    logs.keepOnly(candidate.settings);
    for (const gen of new Set(pool.list().map((h) => h.gen))) if (gen !== candidate) this.drain(gen);
    this.slotPlacement.forgetGuests(); // the old generation, guests included, stops accepting
    pool.manage();
    const detail = `generation ${candidate.number} serving with ${candidate.target} worker(s)`;
    log.info(`Reloaded: ${detail}`);
    this.deps.stats()?.metrics.reload(true);
    return detail;
  }

  /** The candidate failed or was superseded: everything it created goes, the serving generation stays. */
  private async abandon(
    candidate: Generation,
    serving: Generation,
    signal: AbortSignal,
    err: unknown,
  ): Promise<ReloadResult> {
    const { log, logs } = this.deps;
    const superseded = signal.reason === 'SIGHUP';
    const outcome = `reload ${superseded ? 'abandoned' : 'failed'}`;
    const rollout = err instanceof RolloutFailure;
    const reason = rollout
      ? `${describeProgress(err.progress)}${signal.aborted ? '' : `, generation ${serving.number} is restored to full size`}: ${oneLine(err.cause)}`
      : oneLine(err);
    log[superseded ? 'info' : 'error'](
      rollout ? `${outcome} ${reason}` : `${outcome}, the running workers keep serving: ${reason}`,
    );
    if (!superseded) this.deps.stats()?.metrics.reload(false);
    // its workers drain (see drainOnFailure), its sockets and log files close
    this.dropListeners(candidate.listeners, serving.listeners);
    logs.keepOnly(serving.settings);
    await followSticky(this.stickyPlacement, this.stickyMode, serving, log, false);
    return { ok: false, superseded, reason };
  }

  /** The candidate, or why (logged) its configuration cannot be used. */
  private async loadOrLog(serving: Generation, signal: AbortSignal): Promise<Generation | string> {
    try {
      return await this.loadCandidate(serving, signal);
    } catch (err) {
      const reason = oneLine(err);
      this.deps.log.error(`reload failed, keeping the running workers and configuration: ${reason}`);
      this.deps.stats()?.metrics.reload(false);
      return reason;
    }
  }

  /** Load the candidate; throws (a one-line reason) if its configuration cannot be used. */
  private async loadCandidate(serving: Generation, signal: AbortSignal): Promise<Generation> {
    const { cli, envArgs, cwd, log, logs, pool } = this.deps;
    // a generation's number is above every one that still has workers
    const number = Math.max(serving.number, ...pool.list().map((h) => h.generation)) + 1;
    // a config module that never settles must not wedge the signal queue
    // an ecosystem file is read afresh (cli.refresh): a HUP applies its edits
    const load = (async () => resolveSettings((await cli.refresh?.()) ?? cli, envArgs, cwd))();
    const next = await settleWithin(load, serving.settings.bootTimeout * 1000, signal, 'the config file to load');
    requireApp(next.settings);
    const changes = describeChanges(serving.settings, next.settings);
    if (changes) log.info(changes);
    logs.adopt(next.settings);
    const access = unixSocketAccess(next.settings);
    const listeners = await bindAll(next.settings.bind, serving.listeners, process.env, false, access);
    for (const l of listeners)
      if (!serving.listeners.includes(l)) log.info(`Listening at: ${this.url(l)} (${process.pid})`);
    const state = initialState(next.settings);
    const gen = new Generation(number, next, HookRunner.from(next.fileConfig, next.settings, log), listeners, state);
    this.states.set(gen, state);
    return gen;
  }

  /** Close sockets of `from` that `keep` no longer uses. */
  private dropListeners(from: Listener[], keep: Listener[]): void {
    for (const l of from) {
      if (keep.includes(l)) continue;
      this.deps.log.info(`Closing listener ${l.label}`);
      this.slotPlacement.close(l);
    }
  }

  /** How a listener is shown in the log: a URL for TCP, the label otherwise. */
  url(l: Listener): string {
    const { settings } = (this.serving ?? this.booting)!;
    return listenerUrl(l, !!settings.certfile, protocolsOf(settings));
  }

  // ---- booting a generation ---------------------------------------------

  /** `gen` boots as the candidate; once all of it is ready, it is the serving generation: one pointer. */
  private async boot(gen: Generation, booting: () => Promise<void>): Promise<void> {
    this.booting = gen;
    try {
      await booting();
    } finally {
      if (this.booting === gen) this.booting = null;
    }
    this.serving = gen;
  }

  /**
   * A reload's candidate beside the serving generation: all at once, or in
   * batches when its reloadSurge is below its size (rollOut). Paused (WINCH),
   * there is nothing to replace: the whole generation boots at once.
   */
  private bootBeside(gen: Generation, serving: Generation, signal: AbortSignal, paused: boolean): Promise<void> {
    const surge = surgeOf(gen.settings.reloadSurge, gen.target);
    if (surge >= gen.target || paused) return this.bootWhole(gen, signal, false);
    return this.drainOnFailure(gen, this.rollOut(gen, serving, surge, signal));
  }

  /** Boot a whole generation and wait until every worker of it is ready (dead ones are replaced meanwhile). */
  private bootWhole(gen: Generation, signal: AbortSignal, lenient: boolean): Promise<void> {
    const booted = this.startBoot(gen, lenient, signal, gen.target);
    this.deps.pool.manage();
    return this.drainOnFailure(gen, booted);
  }

  /**
   * Boot `size` workers of `gen` (all of them, or a batch of a rolling boot
   * whose earlier batches' ready workers count) and settle when they are ready.
   */
  private startBoot(gen: Generation, lenient: boolean, signal: AbortSignal, size: number): Promise<void> {
    const state = this.write(gen);
    const ready = this.deps.pool.live(gen).filter((h) => h.state === 'ready').length;
    const warn = (m: string) => this.deps.log.warning(m);
    const boot = new GenerationBoot(gen.number, gen.settings, gen.configPath, lenient, signal, warn, size, ready);
    state.boot = boot;
    return boot.done.finally(() => {
      if (state.boot === boot) state.boot = null;
    });
  }

  private async drainOnFailure(gen: Generation, booting: Promise<void>): Promise<void> {
    try {
      await booting;
    } catch (err) {
      this.drain(gen);
      throw err;
    }
  }

  /**
   * Drive a rolling boot to its end (the decisions are rolloutStep's); throws
   * a RolloutFailure when a batch fails to boot or the rollout is aborted.
   * The serving generation's cap is left as it is: reload() restores it
   * (failure), or the generation drains (success).
   */
  private async rollOut(candidate: Generation, serving: Generation, surge: number, signal: AbortSignal): Promise<void> {
    const { pool } = this.deps;
    const size = candidate.target;
    const progress: RolloutProgress = { batches: 0, ofBatches: Math.ceil(size / surge), ready: 0, size };
    for (;;) {
      if (signal.aborted) throw new RolloutFailure(new Error(abortReason(signal.reason)), progress);
      const workers = pool.list();
      const old = workers.filter((h) => h.gen !== candidate && !h.retiring);
      const newReady = pool.live(candidate).filter((h) => h.state === 'ready').length;
      const draining = workers.filter((h) => h.retiring).length;
      progress.ready = newReady;
      const step = rolloutStep({ size, surge, oldTarget: serving.target, oldLive: old.length, draining, newReady });
      if (step.kind === 'done') return;
      if (step.kind === 'drain') {
        for (const h of replacedFirst(workers, candidate).slice(0, step.count)) h.term();
        // it keeps what it has left: what it handed over is not replaced
        const state = this.write(serving);
        state.cap = Math.min(state.cap ?? state.target, pool.live(serving).length);
      } else if (step.kind === 'wait') await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      else {
        await this.startBoot(candidate, false, signal, step.size).catch((err: unknown) => {
          throw new RolloutFailure(err, progress);
        });
        progress.batches++;
      }
    }
  }

  // ---- pause, resize, stop ----------------------------------------------

  /** WINCH: every worker stops gracefully, the sockets stay; a reload under way stops with them. */
  pause(): void {
    this.abort('SIGWINCH');
    this.phase = { phase: 'paused' };
    for (const h of this.deps.pool.list()) if (!h.retiring) h.term();
  }

  /** TTIN (+1) and TTOU (-1): the serving generation's target, within 1 … MAX_WORKERS. */
  resize(by: 1 | -1): void {
    const { log, pool } = this.deps;
    const serving = this.serving!;
    const from = serving.target;
    const to = from + by;
    if (to > MAX_WORKERS) log.info(`Number of workers stays ${from}: the maximum is ${MAX_WORKERS}`);
    else if (to < 1) log.info('Number of workers stays 1: already at 1 worker');
    else {
      this.write(serving).target = to;
      log.info(`Number of workers: ${from} -> ${to}`);
      void serving.hooks.call('nworkersChanged', { from, to });
      pool.manage();
      if (to < from) pool.stopSurplus(); // the oldest beyond the new target
    }
  }

  /** The master stops: no generation wants workers any more. Returns the stop already under way, if any. */
  stop(mode: 'graceful' | 'quick'): 'graceful' | 'quick' | null {
    const under = this.phase.phase === 'stopping' ? this.phase.mode : null;
    if (!under || (under === 'graceful' && mode === 'quick')) this.phase = { phase: 'stopping', mode };
    return under;
  }

  /**
   * Gracefully stop `gen`'s live workers: TERM, never QUIT, because a worker
   * may already have accepted connections on a shared socket (even one of a
   * candidate that never became ready), and a quick stop would reset them.
   */
  private drain(gen: Generation): void {
    for (const h of this.deps.pool.live(gen)) h.term();
  }

  /** The write side of a generation this owner made. */
  private write(gen: Generation): GenerationState {
    return this.states.get(gen)!;
  }
}
