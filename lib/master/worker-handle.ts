import { UserError } from '../errors.js';
import type { Worker } from 'node:cluster';
import type { WorkerToMaster } from '../worker/messages.js';

/** How long a QUIT (quick stop) waits before SIGKILL, as gunicorn's quick shutdown. */
export const QUICK_STOP_MS = 2000;
/** How long a worker aborted for silence gets to run its workerAbort hook before SIGKILL. */
const ABORT_GRACE_MS = 1000;

export type WorkerState = 'booting' | 'ready' | 'draining' | 'stopping';

/** A generation (or the first one, at start) did not come up. */
export class BootFailure extends UserError {}

/**
 * The master's view of one worker process: its state, last check-in and stats.
 * It owns the stop policy (puma's WorkerHandle#term): every stop is a signal
 * followed by SIGKILL if the worker is still there when its grace runs out.
 */
export class WorkerHandle {
  state: WorkerState = 'booting';
  readonly startedAt = Date.now();
  lastCheckin = Date.now();
  readyAt = 0;
  requests = 0;
  accepted = 0;
  rss = 0;
  abortedAt = 0;
  /** Set when the worker stopped on purpose (drain, recycle, shutdown). */
  retiring = false;
  /** The app's own failure to load, as the worker reported it. */
  bootError: BootFailure | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** When the armed SIGKILL fires (monotonic ms). */
  private killAt = Number.POSITIVE_INFINITY;

  constructor(
    readonly worker: Worker,
    readonly generation: number,
    /** The current graceful timeout in ms (it may change on HUP). */
    private readonly graceMs: () => number,
    /** Its worker slot: with reusePort, the socket it accepts on; a replacement takes over a free one. */
    readonly slot = 0,
  ) {}

  get pid(): number {
    return this.worker.process.pid!;
  }

  get id(): number {
    return this.worker.id;
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
  }

  /** How long it took from fork to ready (null until it is ready). */
  get bootMs(): number | null {
    return this.readyAt ? this.readyAt - this.startedAt : null;
  }

  /** Ready and not retiring: accepting on its sockets. */
  get accepting(): boolean {
    return this.state === 'ready' && !this.retiring;
  }

  /** How long it has served since it reported ready (0 if it never did). */
  get servingMs(): number {
    return this.readyAt ? Date.now() - this.readyAt : 0;
  }

  get serving(): boolean {
    return !this.retiring && (this.state === 'booting' || this.state === 'ready');
  }

  /** Apply a message from the worker to its state. */
  onMessage(msg: WorkerToMaster): void {
    this.lastCheckin = Date.now();
    switch (msg.type) {
      case 'ready':
        if (this.state === 'booting') this.state = 'ready';
        this.readyAt = Date.now();
        return;
      case 'boot-error':
        this.bootError = new BootFailure(msg.message, msg.exitCode);
        return;
      case 'heartbeat':
        this.requests = msg.requests;
        this.accepted = msg.accepted;
        this.rss = msg.rss;
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
    this.state = 'draining';
    this.killAfter(this.graceMs());
  }

  /** Missed heartbeats: SIGABRT (the workerAbort hook may run), then SIGKILL. */
  abort(now: number): void {
    this.abortedAt = now;
    this.signal('SIGABRT');
    this.killAfter(ABORT_GRACE_MS);
  }

  kill(): void {
    this.signal('SIGKILL');
  }

  private stopWith(sig: 'SIGTERM' | 'SIGQUIT', state: WorkerState, graceMs: number): void {
    this.retiring = true;
    this.state = state;
    this.signal(sig);
    this.killAfter(graceMs);
  }

  /** Arm the SIGKILL; one armed to fire sooner stands (a later stop never buys a worker time). */
  private killAfter(ms: number): void {
    const at = performance.now() + ms;
    if (this.killTimer && at >= this.killAt) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killAt = at;
    this.killTimer = setTimeout(() => this.kill(), ms);
  }
}
