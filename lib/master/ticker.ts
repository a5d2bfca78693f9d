// The master's housekeeping tick at two paces: quick while anything is
// under way (a boot, a reload, an exit, a signal), slow while the pool is
// steady, so that an idle master wakes up rarely. Every timer it arms sits
// on the shared grid just after the workers' check-ins (lib/grid.ts).

import { alignToGrid } from '../grid.js';

/** The tick while anything is under way. */
export const QUICK_TICK_MS = 250;
/** After the workers' check-ins on the grid: one wake-up for the tick and their heartbeats. */
const GRID_OFFSET_MS = 20;

export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private everyMs = QUICK_TICK_MS;
  private stopped = false;

  constructor(private readonly tick: () => void) {}

  /** Start at the quick pace. A ref'd timer: it keeps the master alive even while it holds only sockets. */
  start(): void {
    this.arm(QUICK_TICK_MS);
  }

  /** Tick every `slowMs` from now on (the pool is steady), or quickly again. */
  pace(steady: boolean, slowMs: number): void {
    const ms = steady ? Math.max(QUICK_TICK_MS, slowMs) : QUICK_TICK_MS;
    if (ms !== this.everyMs) this.arm(ms);
  }

  /** Something happened: back to the quick pace, the next tick within a quick interval. */
  quicken(): void {
    if (this.everyMs !== QUICK_TICK_MS) this.arm(QUICK_TICK_MS);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearInterval(this.timer);
    this.everyMs = ms;
    this.timer = setInterval(this.tick, ms);
    alignToGrid(this.timer, ms, GRID_OFFSET_MS);
  }
}
