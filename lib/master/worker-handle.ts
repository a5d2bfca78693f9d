import { UserError } from '../errors.js';
import type { Worker } from 'node:cluster';
import type { WorkerToMaster } from '../worker/messages.js';

export type WorkerState = 'booting' | 'ready' | 'draining' | 'stopping';

/** A generation (or the first one, at start) did not come up. */
export class BootFailure extends UserError {}

/** The master's view of one worker process: its state, last check-in and stats. */
export class WorkerHandle {
  state: WorkerState = 'booting';
  readonly startedAt = Date.now();
  lastCheckin = Date.now();
  readyAt = 0;
  requests = 0;
  rss = 0;
  abortedAt = 0;
  /** Set when the worker stopped on purpose (drain, recycle, shutdown). */
  retiring = false;
  readonly ready: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: BootFailure) => void };
  private killTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly worker: Worker,
    readonly generation: number,
  ) {
    this.ready = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => {}); // a failure is read by whoever waits, if anyone
  }

  get pid(): number {
    return this.worker.process.pid!;
  }

  get id(): number {
    return this.worker.id;
  }

  get uptimeMs(): number {
    return Date.now() - this.startedAt;
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
        this.settle.resolve();
        return;
      case 'boot-error':
        this.settle.reject(new BootFailure(msg.message, msg.exitCode));
        return;
      case 'heartbeat':
        this.requests = msg.requests;
        this.rss = msg.rss;
    }
  }

  onExit(description: string): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.settle.reject(new BootFailure(`worker ${this.pid} ${description} before it was ready`, 3));
  }

  signal(sig: NodeJS.Signals): void {
    try {
      this.worker.process.kill(sig);
    } catch {
      // already gone; its exit event follows
    }
  }

  /** Ask for a graceful stop, and SIGKILL it if it is still there after `graceMs`. */
  stop(sig: 'SIGTERM' | 'SIGQUIT', graceMs: number): void {
    this.retiring = true;
    this.state = sig === 'SIGTERM' ? 'draining' : 'stopping';
    this.signal(sig);
    this.killAfter(graceMs);
  }

  killAfter(ms: number): void {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = setTimeout(() => this.signal('SIGKILL'), ms);
  }
}
