import type { Worker } from 'node:cluster';
import type { Settings } from '../../config/types.js';
import { UserError } from '../../errors.js';
import type { CheckedMessage } from '../../protocol/worker-message-schemas.js';
import type { RuntimeSample } from '../../protocol/messages.js';
import { type Clock, monotonic } from '../../clock.js';
import type { WorkerState } from '../../protocol/messages.js';

/** How long a QUIT (quick stop) waits before SIGKILL, as gunicorn's quick shutdown. */
export const QUICK_STOP_MS = 2000;
/** How long a worker aborted for silence gets to run its workerAbort hook before SIGKILL. */
const ABORT_GRACE_MS = 1000;

/** A generation (or the first one, at start) did not come up. */
export class BootFailure extends UserError {}

/** What a worker knows of its generation: its number, and the settings it was forked with and is stopped with. */
export interface WorkerGeneration {
  readonly number: number;
  readonly settings: Settings;
}

/**
 * The master's view of one worker process: its state, last check-in and stats.
 * It owns the stop policy (puma's WorkerHandle#term): every stop is a signal
 * followed by SIGKILL if the worker is still there when its grace runs out.
 * Every time it keeps is on the monotonic clock.
 */
export class WorkerHandle<G extends WorkerGeneration = WorkerGeneration> {
  state: WorkerState = 'booting';
  readonly startedAt: number;
  lastCheckin: number;
  /** The master stopped reading its channel for volume: its heartbeats wait unread, so it is not hung. */
  readPaused = false;
  /** When it reported ready (0 until then). */
  readyAt = 0;
  requests = 0;
  accepted = 0;
  rss = 0;
  /** Its runtime health, from its last heartbeat (null before the first). */
  runtime: RuntimeSample | null = null;
  abortedAt = 0;
  /** Set when the worker stopped on purpose (drain, recycle, shutdown). */
  retiring = false;
  /** Who decided it stops: the master (TERM, QUIT) or the worker itself (max-requests). */
  stoppedBy: 'master' | 'worker' | null = null;
  /** The app's own failure to load, as the worker reported it. */
  bootError: BootFailure | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** When the armed SIGKILL fires (monotonic ms). */
  private killAt = Number.POSITIVE_INFINITY;

  constructor(
    readonly worker: Worker,
    /** The generation it belongs to: it runs, and is stopped with, that generation's settings. */
    readonly gen: G,
    /** Its worker slot: with reusePort, the socket it accepts on; a replacement takes over a free one. */
    readonly slot = 0,
    private readonly clock: Clock = monotonic,
  ) {
    this.startedAt = this.lastCheckin = clock();
  }

  get generation(): number {
    return this.gen.number;
  }

  private graceMs(): number {
    return this.gen.settings.gracefulTimeout * 1000;
  }

  get pid(): number {
    return this.worker.process.pid!;
  }

  get id(): number {
    return this.worker.id;
  }

  get uptimeMs(): number {
    return Math.round(this.clock() - this.startedAt);
  }

  /** How long it took from fork to ready (null until it is ready). */
  get bootMs(): number | null {
    return this.readyAt ? Math.round(this.readyAt - this.startedAt) : null;
  }

  /** Ready and not retiring: accepting on its sockets. */
  get accepting(): boolean {
    return this.state === 'ready' && !this.retiring;
  }

  /** How long it has served since it reported ready (0 if it never did). */
  get servingMs(): number {
    return this.readyAt ? this.clock() - this.readyAt : 0;
  }

  get serving(): boolean {
    return !this.retiring && (this.state === 'booting' || this.state === 'ready');
  }

  /** Apply a message from the worker to its state. */
  onMessage(msg: CheckedMessage): void {
    // a hang report comes from the helper thread: it says the main thread is stuck, not that it lives
    if (msg.type === 'hang') return;
    this.lastCheckin = this.clock();
    switch (msg.type) {
      case 'ready':
        if (this.state === 'booting') this.state = 'ready';
        this.readyAt = this.lastCheckin;
        return;
      case 'boot-error':
        this.bootError = new BootFailure(msg.message, msg.exitCode);
        return;
      case 'heartbeat':
        this.requests = msg.requests;
        this.accepted = msg.accepted;
        this.rss = msg.rss;
        if (msg.runtime) this.runtime = msg.runtime;
    }
  }

  onExit(): void {
    if (this.killTimer) clearTimeout(this.killTimer);
  }

  signal(sig: NodeJS.Signals): void {
    try {
      this.worker.process.kill(sig);
    } catch {
      // already gone; its exit event follows
    }
  }

  /** Graceful stop: finish in-flight requests, SIGKILL after the graceful timeout. */
  term(): void {
    this.stopWith('SIGTERM', 'draining', this.graceMs());
  }

  /** Quick stop: exit at once, SIGKILL after 2 s. */
  quit(): void {
    this.stopWith('SIGQUIT', 'stopping', QUICK_STOP_MS);
  }

  /** The worker drains on its own (max-requests): SIGKILL it if that outlasts the graceful timeout. */
  retire(): void {
    if (this.retiring) return;
    this.retiring = true;
    this.stoppedBy = 'worker';
    this.state = 'draining';
    this.killAfter(this.graceMs());
  }

  /** Missed heartbeats: SIGABRT (the workerAbort hook may run), then SIGKILL. */
  abort(): void {
    this.abortedAt = this.clock();
    this.signal('SIGABRT');
    this.killAfter(ABORT_GRACE_MS);
  }

  kill(): void {
    this.signal('SIGKILL');
  }

  private stopWith(sig: 'SIGTERM' | 'SIGQUIT', state: WorkerState, graceMs: number): void {
    this.retiring = true;
    this.stoppedBy ??= 'master';
    this.state = state;
    this.signal(sig);
    this.killAfter(graceMs);
  }

  /** Arm the SIGKILL; one armed to fire sooner stands (a later stop never buys a worker time). */
  private killAfter(ms: number): void {
    const at = this.clock() + ms;
    if (this.killTimer && at >= this.killAt) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killAt = at;
    this.killTimer = setTimeout(() => this.kill(), ms);
  }
}
