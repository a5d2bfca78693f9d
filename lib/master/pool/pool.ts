// The workers themselves (gunicorn's manage_workers / murder_workers / reap,
// puma's WorkerHandle bookkeeping): spawning through an injected fork
// function, forks under way, why a worker exited and what that costs (the
// crash backoff), and murder of silent workers. Time is an injected monotonic
// clock, so a wall-clock step never murders or delays anything. Which
// generations want how many workers is the arbiter's to say (`targets`).

import { oneLine } from '../../errors.js';
import type { ErrorLog } from '../../log/error-line.js';
import type { RestartCause } from '../../stats/master-metrics.js';
import type { Clock } from '../../clock.js';
import type { HangRecord } from '../../protocol/status.js';
import { CrashBackoff } from './crash-backoff.js';
import type { Generation } from '../lifecycle/generation.js';
import { decide, oldestSurplus, type PoolView } from './reconcile.js';
import { WorkerHandle } from './worker-handle.js';

export type Worker = WorkerHandle<Generation>;

/**
 * Why a worker exited. crash: it died unasked; unexpected: it exited 0
 * unasked, without saying it would (an app's process.exit(0)); timeout: the
 * master aborted it for silence; retired: it said it stops (max-requests, a
 * TERM from anyone); stopped: the master stopped it (drain, TTOU, recycle,
 * shutdown). Only a crash, an unexpected exit or a timeout counts as a
 * restart and feeds the backoff.
 */
export type ExitKind = 'crash' | 'unexpected' | 'timeout' | 'retired' | 'stopped';

export function classifyExit(
  h: Pick<Worker, 'stoppedBy' | 'abortedAt'>,
  masterStopping: boolean,
  /** It exited with code 0, not by a signal. */
  clean = false,
): ExitKind {
  if (masterStopping || h.stoppedBy === 'master') return 'stopped';
  if (h.stoppedBy === 'worker') return 'retired';
  if (h.abortedAt) return 'timeout';
  return clean ? 'unexpected' : 'crash';
}

/** The generations that want workers now, from the arbiter's state. */
export interface Targets {
  /** It should have `target` workers (null: none should run: paused, stopping, not booted yet). */
  serving: Generation | null;
  /** A generation booting (the first one, or a reload's candidate): it wants `boot.size` workers. */
  booting: Generation | null;
  /** Surplus workers of the serving generation may be stopped (not while a reload is under way). */
  mayStop: boolean;
}

/** What the pool needs from the master. */
export interface PoolContext {
  log(): ErrorLog;
  targets(): Targets;
  stopping(): boolean;
  /** Count a replaced worker (the metrics, when statsBind is set). */
  restart(cause: RestartCause): void;
  /** A worker was forked: read its messages, run postFork. */
  forked(h: Worker): void;
  /** A worker exited and was classified (the pool replaces it on its own). */
  exited(h: Worker, kind: ExitKind, code: number | null, signal: string | null): void;
}

/** Forks a worker of `gen` for `slot`: null if none was forked (a stop meanwhile); throws if the fork failed. */
export type Fork<W> = (gen: Generation, slot: number) => Promise<W | null>;
/** What the pool uses of a forked node:cluster worker. */
export type ForkedProcess = Worker['worker'];

export class Pool {
  readonly workers = new Map<number, Worker>();
  /** Workers that died unasked (crash or timeout) and were replaced. */
  restarts = 0;
  /** Messages from workers the master did not act on, by reason (counted by their intake). */
  ignored: Readonly<Record<string, number>> = {};
  /** The last hang reports (stackOnTimeout), kept by their reader. */
  hangs: readonly HangRecord[] = [];
  /** Forks under way per generation (preFork hooks are async): see reconcile.ts. */
  private readonly pending = new Map<number, number>();
  /** `generation:slot` of forks under way, so that two spawns never take the same slot. */
  private readonly reserved = new Set<string>();
  private readonly backoff = new CrashBackoff();
  private spawnTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly fork: Fork<ForkedProcess>,
    private readonly clock: Clock,
    private readonly ctx: PoolContext,
  ) {}

  list(): Worker[] {
    return [...this.workers.values()];
  }

  /** The workers of `gen` that have not exited. */
  of(gen: Generation | null): Worker[] {
    return this.list().filter((h) => h.gen === gen);
  }

  /** Workers of `gen` that count towards its size: booting or ready, not retiring. */
  live(gen: Generation): Worker[] {
    return this.of(gen).filter((h) => !h.retiring);
  }

  view(targets = this.ctx.targets()): PoolView {
    const { serving, booting } = targets;
    return {
      workers: this.list(),
      serving: serving && { generation: serving.number, target: serving.wanted },
      booting: booting?.boot ? { generation: booting.number, size: booting.boot.size } : null,
      pending: this.pending,
      mayStop: targets.mayStop,
    };
  }

  /**
   * Compare the pool with its targets and fix any drift (gunicorn's
   * manage_workers, called every turn of its loop): on every tick and after
   * every worker exit. Spawns wait for the crash backoff. Returns whether
   * there was nothing to fix.
   */
  manage(): boolean {
    const targets = this.ctx.targets();
    const { spawn, stop } = decide(this.view(targets));
    for (const id of stop) {
      const h = this.workers.get(id)!;
      this.ctx.log().info(`Stopping surplus worker ${h.pid}`);
      h.term();
    }
    if (!spawn.length) return stop.length === 0;
    const wait = this.backoff.wait(this.clock());
    if (wait > 0) {
      this.spawnTimer ??= setTimeout(() => {
        this.spawnTimer = null;
        this.manage();
      }, wait);
      return false;
    }
    for (const { generation, count } of spawn) {
      const gen = [targets.serving, targets.booting].find((g) => g?.number === generation)!;
      for (let i = 0; i < count; i++) void this.spawn(gen);
    }
    return false;
  }

  /**
   * Nothing under way: no fork, no backoff wait, every worker ready and
   * neither retiring nor aborted (none missing or surplus is what manage()
   * returns). The master may then tick slowly (ticker.ts).
   */
  steady(): boolean {
    if (this.spawnTimer) return false;
    for (const n of this.pending.values()) if (n > 0) return false;
    for (const h of this.workers.values()) if (h.state !== 'ready' || h.retiring || h.abortedAt) return false;
    return true;
  }

  /** After TTOU lowered the target: stop the oldest workers beyond it (gunicorn stops the oldest too). */
  stopSurplus(): void {
    for (const id of oldestSurplus(this.view())) this.workers.get(id)!.term();
  }

  /** gunicorn's murder_workers: a worker that misses its heartbeat (or its boot) gets SIGABRT, then SIGKILL. */
  murder(): void {
    const now = this.clock();
    for (const h of this.workers.values()) {
      const { bootTimeout, timeout } = h.gen.settings;
      const limit = h.state === 'booting' ? bootTimeout : timeout;
      if (!limit || h.retiring || h.abortedAt || h.readPaused || now - h.lastCheckin <= limit * 1000) continue;
      this.ctx.log().critical(`WORKER TIMEOUT (pid: ${h.pid}): no heartbeat for ${limit} s`);
      h.abort();
    }
  }

  /**
   * The worker says it drains (max-requests, or a TERM from anyone): replace
   * it while it does. A worker the master stopped says so too: nothing new.
   */
  retiring(h: Worker, reason: string, signal?: 'SIGTERM'): void {
    if (h.retiring) return;
    this.ctx.log().info(`Worker ${h.pid} is retiring: ${reason}`);
    h.retire();
    this.ctx.restart(signal ? 'signal' : 'max_requests');
    this.manage();
  }

  /** A heartbeat's memory figure over its generation's maxMemory: recycle the worker. */
  checkMemory(h: Worker, rss: number): void {
    const { maxMemory } = h.gen.settings;
    if (!(maxMemory > 0 && rss > maxMemory * 1048576 && h.serving)) return;
    this.ctx
      .log()
      .warning(`Worker ${h.pid} uses ${Math.round(rss / 1048576)} MiB (limit ${maxMemory} MiB), recycling it`);
    h.term();
    this.ctx.restart('max_memory');
    this.manage();
  }

  /** Wait until every worker has exited, or `maxMs` passed. */
  async drained(maxMs: number): Promise<void> {
    const until = this.clock() + maxMs;
    while (this.workers.size > 0 && this.clock() < until) await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    if (this.spawnTimer) clearTimeout(this.spawnTimer);
  }

  /**
   * The one place a worker is spawned. Counted in `pending` from the call
   * until the worker is registered (or the fork failed), exactly once.
   */
  private async spawn(gen: Generation): Promise<void> {
    const generation = gen.number;
    this.pending.set(generation, (this.pending.get(generation) ?? 0) + 1);
    // a new worker takes the lowest slot its generation leaves free: a replacement takes over the socket
    // (and what queued on it) of the worker it replaces
    const slot = this.freeSlot(gen);
    const reservation = `${generation}:${slot}`;
    this.reserved.add(reservation);
    let forked: ForkedProcess | null = null;
    let failure: { err: unknown } | null = null;
    try {
      forked = await this.fork(gen, slot);
    } catch (err) {
      failure = { err };
    }
    this.pending.set(generation, this.pending.get(generation)! - 1);
    this.reserved.delete(reservation);
    if (failure) this.forkFailed(gen, failure.err);
    if (!forked) return;
    const h: Worker = new WorkerHandle(forked, gen, slot, this.clock);
    this.workers.set(h.id, h);
    forked.on('exit', (code: number | null, signal: string | null) => this.onExit(h, code, signal));
    this.ctx.forked(h);
    // its generation stopped wanting workers while it was forked (a reload took over, WINCH): it drains
    const { serving, booting } = this.ctx.targets();
    if (gen !== serving && gen !== booting) h.term();
  }

  /** The lowest slot no serving worker of `gen` and no fork under way holds. */
  private freeSlot(gen: Generation): number {
    const taken = new Set<number>();
    for (const h of this.of(gen)) if (h.serving) taken.add(h.slot);
    let slot = 0;
    while (taken.has(slot) || this.reserved.has(`${gen.number}:${slot}`)) slot++;
    return slot;
  }

  /** A fork that failed is a crash: counted, and the next one waits for the backoff. */
  private forkFailed(gen: Generation, err: unknown): void {
    this.restarts++;
    this.ctx.restart('crash');
    const delay = this.backoff.recordExit(0, this.clock());
    const why = (err as NodeJS.ErrnoException).code ?? oneLine(err);
    this.ctx.log().error(`Cannot fork a worker (generation ${gen.number}): ${why}; next start in ${delay} ms`);
    this.manage();
  }

  private onExit(h: Worker, code: number | null, signal: string | null): void {
    this.workers.delete(h.id);
    h.onExit();
    const kind = classifyExit(h, this.ctx.stopping(), code === 0 && !signal);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const log = this.ctx.log();
    const early = h.readyAt ? '' : ' before it was ready';
    if (kind === 'stopped' || kind === 'retired') {
      log.info(`Worker exiting (pid: ${h.pid})${code || signal ? ` ${how}` : ''}`);
    } else {
      if (kind === 'unexpected') log.warning(`Worker (pid: ${h.pid}) ${how}${early} without saying it would stop`);
      else log.error(`Worker (pid: ${h.pid}) ${how}${early}`);
      this.restarts++;
      this.ctx.restart(kind === 'unexpected' ? 'unexpected_exit' : kind);
      const delay = this.backoff.recordExit(h.servingMs, this.clock());
      if (delay > 0)
        log.warning(
          `Worker died ${h.readyAt ? `${Math.round(h.servingMs)} ms after it became ready` : 'before it was ready'}; next start in ${delay} ms`,
        );
      h.gen.boot?.onExit(h);
    }
    this.ctx.exited(h, kind, code, signal);
    this.manage();
  }
}
