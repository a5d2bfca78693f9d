// How the master reads a worker's channel within its budget (protocol/channel.ts).
//
// A ChannelMeter keeps a channel's two budgets (bytes and messages, per
// second, with a burst) as token buckets on an injected monotonic clock; it
// says how long the master must wait before it reads again. A ReadValve stops
// and restarts the reading of one descriptor (a pipe handle's readStop and
// readStart, a stream's pause and resume): it stays closed while any hold is
// on it, a hold for a time (a spent budget) or until a promise settles (a sink
// that has not written what it took). Each closing counts one pause of its
// channel (CHANNEL_PAUSES: `tsgund status --json` and /metrics). Nothing here
// stops a worker: volume only ever waits.
//
// API:
//   const meter = new ChannelMeter(CHANNELS.x.budget, clock());
//   const valve = new ReadValve('x', { stop, start }, { paused, resumed });
//   after each read: valve.holdFor(meter.spend(bytes, messages, clock()));
//   a busy sink:     valve.holdUntil(promise);
//   a message longer than tooLong(CHANNELS.x.budget, bytes) is a violation.

import { CHANNEL_NAMES, type ChannelBudget, type ChannelName } from '../../protocol/channel.js';

/** Pauses per channel since the master started, over all workers: volume answered with backpressure. */
export const CHANNEL_PAUSES = Object.fromEntries(CHANNEL_NAMES.map((n) => [n, 0])) as Record<ChannelName, number>;

/** Whether a message of `bytes` breaks the channel's protocol (longer than any message it may carry). */
export const tooLong = (budget: ChannelBudget, bytes: number): boolean => bytes > budget.maxMessageBytes;

class Bucket {
  private tokens: number;
  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
  ) {
    this.tokens = capacity;
  }

  /** Refill for `elapsed` ms, spend `n`: the milliseconds until the debt is paid (0 when there is none). */
  spend(n: number, elapsed: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.perSecond) / 1000) - n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }
}

/** A channel's byte and message budgets for one worker. Pure, on the clock passed in (ms, monotonic). */
export class ChannelMeter {
  private readonly bytes: Bucket;
  private readonly messages: Bucket;
  private last: number;

  constructor(budget: ChannelBudget, now: number) {
    this.bytes = new Bucket(budget.bytesPerSecond, budget.bytesPerSecond * budget.burstSeconds);
    this.messages = new Bucket(budget.messagesPerSecond, budget.messagesPerSecond * budget.burstSeconds);
    this.last = now;
  }

  /** Spend what was just read: how many ms to stop reading for (0: read on). */
  spend(bytes: number, messages: number, now: number): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    return Math.max(this.bytes.spend(bytes, elapsed), this.messages.spend(messages, elapsed));
  }
}

export interface Readable {
  stop(): void;
  start(): void;
}

export interface ValveEvents {
  /** Reading stopped for volume. */
  paused?(): void;
  /** Reading goes on: the worker's heartbeat deadline runs from here. */
  resumed?(): void;
}

export interface ValveTimers {
  /** Milliseconds, monotonic. */
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

export const VALVE_TIMERS: ValveTimers = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (t) => clearTimeout(t as NodeJS.Timeout),
};

/** Stops and restarts the reading of one descriptor while holds are on it. */
export class ReadValve {
  private holds = 0;
  private timer: unknown = null;
  /** When the running wait ends. */
  private until = 0;
  private closedForGood = false;

  constructor(
    private readonly channel: ChannelName,
    private readonly target: Readable,
    private readonly events: ValveEvents = {},
    private readonly timers: ValveTimers = VALVE_TIMERS,
  ) {}

  get paused(): boolean {
    return this.holds > 0;
  }

  /** Stop reading for `ms` (0: no hold), or longer if a longer wait runs already. */
  holdFor(ms: number): void {
    const until = this.timers.now() + ms;
    if (ms <= 0 || this.closedForGood || (this.timer !== null && until <= this.until)) return;
    // the running wait's hold carries over to the longer one
    if (this.timer !== null) this.timers.clear(this.timer);
    else this.hold();
    this.until = until;
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.release();
    }, ms);
  }

  /** Stop reading until `settled` settles (a sink that has not written what it took). */
  holdUntil(settled: Promise<unknown>): void {
    if (this.closedForGood) return;
    this.hold();
    const release = (): void => this.release();
    settled.then(release, release);
  }

  /** The channel ended or the worker is stopped: no more holds, no more restarts. */
  close(): void {
    this.closedForGood = true;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
  }

  private hold(): void {
    if (this.holds++ > 0) return;
    CHANNEL_PAUSES[this.channel]++;
    this.target.stop();
    this.events.paused?.();
  }

  private release(): void {
    if (--this.holds > 0 || this.closedForGood) return;
    this.target.start();
    this.events.resumed?.();
  }
}
