import type { Settings } from '../../config/types.js';
import { EXIT } from '../../errors.js';
import { BootFailure, type WorkerHandle } from '../pool/worker-handle.js';

/**
 * One generation coming up: the first one at start, or a reload's. Workers of
 * it that die are replaced (by the master's reconciliation) until every slot
 * is ready; the boot fails only on the app's own failure: a boot-error message
 * from a worker, or no worker ready within bootTimeout.
 *
 * At start the boot is lenient: once any worker is ready the port serves, so
 * from then on no worker failure fails the start; after bootTimeout the start
 * succeeds with the workers that are ready and the rest keep being started.
 */
export class GenerationBoot {
  readonly done: Promise<void>;
  private settled = false;
  private finish!: { resolve: () => void; reject: (e: BootFailure) => void };
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly generation: number,
    readonly settings: Settings,
    readonly configPath: string | null,
    private readonly lenient: boolean,
    signal: AbortSignal,
    private readonly warn: (message: string) => void,
    /** How many of its workers must be ready: all of them, or a batch of a rolling boot. */
    readonly size = settings.workers,
    /** Workers of it already ready (a later batch counts those of the earlier ones). */
    private readyCount = 0,
  ) {
    this.done = new Promise<void>((resolve, reject) => (this.finish = { resolve, reject }));
    const timeoutMs = settings.bootTimeout * 1000;
    this.timer = setTimeout(() => this.onTimeout(timeoutMs), timeoutMs);
    const onAbort = () => this.fail(new BootFailure(abortReason(signal.reason), EXIT.boot));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    void this.done.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => {});
    if (this.readyCount >= size) this.succeed();
  }

  /** Still waiting: its workers are still to be spawned and replaced. */
  get active(): boolean {
    return !this.settled;
  }

  onReady(): void {
    this.readyCount++;
    if (this.readyCount >= this.size) this.succeed();
  }

  /** A worker of this generation exited before it was ready. */
  onExit(h: WorkerHandle): void {
    if (h.readyAt) this.readyCount--;
    if (h.bootError && !(this.lenient && this.readyCount > 0)) this.fail(h.bootError);
  }

  private onTimeout(timeoutMs: number): void {
    if (this.lenient && this.readyCount > 0) {
      this.warn(
        `only ${this.readyCount} of ${this.size} workers ready after ${timeoutMs / 1000} s (boot-timeout); the rest keep being started`,
      );
      this.succeed();
      return;
    }
    this.fail(
      new BootFailure(
        `gave up waiting for workers to report ready after ${timeoutMs / 1000} s (boot-timeout)`,
        EXIT.boot,
      ),
    );
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.finish.resolve();
  }

  private fail(err: BootFailure): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.finish.reject(err);
  }
}

/** `work`, unless `signal` aborts or `timeoutMs` passes first (then a BootFailure). */
export function settleWithin<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | null,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new BootFailure(`gave up waiting for ${what} after ${timeoutMs / 1000} s (boot-timeout)`, 3)),
      timeoutMs,
    );
    const onAbort = () => reject(new BootFailure(abortReason(signal?.reason), 3));
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

/** Why a boot was aborted, from the signal that aborted it. */
export function abortReason(reason: unknown): string {
  if (reason === 'SIGHUP') return 'superseded by a newer HUP';
  if (reason === 'SIGWINCH') return 'interrupted by WINCH (all workers stop)';
  return 'interrupted by a stop signal';
}
