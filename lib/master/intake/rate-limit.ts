// How many messages a worker may send the master: a token bucket per worker.
// A worker sends a heartbeat at most every 100 ms plus a handful of messages
// at boot and exit, so the rate below leaves it ample room; a worker above it
// has its messages dropped, and one that keeps going (the overdraft runs out)
// floods, and is stopped like a hung worker. Pure, with an injected clock.

export interface RateLimit {
  /** Messages per second, sustained. */
  perSecond: number;
  /** Messages at once, on top of the sustained rate. */
  burst: number;
  /** Messages dropped beyond the rate before the worker counts as flooding. */
  overdraft: number;
}

/** Twenty times the fastest heartbeat: nothing tsgund's own worker sends comes near it. */
export const WORKER_MESSAGE_LIMIT: RateLimit = { perSecond: 200, burst: 400, overdraft: 400 };

export type Admission = 'ok' | 'drop' | 'flood';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.last = now;
  }

  /** Take one token at `now` (milliseconds, monotonic): 'drop' below zero, 'flood' past the overdraft. */
  take(now: number): Admission {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed * this.limit.perSecond) / 1000);
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    if (this.tokens > -this.limit.overdraft) return 'drop';
    return 'flood';
  }
}
