import { monotonic } from '../../clock.js';

const QUICK_DEATH_MS = 1000;
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 10_000;
const HEALTHY_RESET_MS = 30_000;

/**
 * Workers that die before, or within a second of, becoming ready are restarted
 * with exponential backoff, so a broken app never makes the master spin a core.
 * (Counted from readiness, not spawn: a loaded machine can take over a second
 * just to boot a worker.)
 */
export class CrashBackoff {
  private streak = 0;
  private lastCrash = 0;
  private notBefore = 0;

  /** Record a worker exit (`now`: monotonic ms) after `servingMs` of service; returns the delay before the next spawn in ms. */
  recordExit(servingMs: number, now = monotonic()): number {
    if (now - this.lastCrash > HEALTHY_RESET_MS) this.streak = 0;
    if (servingMs >= QUICK_DEATH_MS) return 0;
    this.lastCrash = now;
    this.streak++;
    const delay = Math.min(FIRST_DELAY_MS * 2 ** (this.streak - 1), MAX_DELAY_MS);
    this.notBefore = now + delay;
    return delay;
  }

  /** Milliseconds to wait before a spawn is allowed. */
  wait(now = monotonic()): number {
    return Math.max(0, this.notBefore - now);
  }
}
