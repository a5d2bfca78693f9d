// The master's own event-loop delay for `tsgund status`: a delay monitor
// started by the first status request (so a master nobody asks pays
// nothing), read over windows of about 10 s.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoopStatus } from '../protocol/status.js';

const RESOLUTION_MS = 100;
const WINDOW_MS = 10_000;

const lateMs = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);

export class MasterLoop {
  private monitor: IntervalHistogram | null = null;
  private windowStart = 0;

  /** The delay since the window began (null on the first call, which starts the monitor). */
  sample(now = performance.now()): LoopStatus | null {
    const m = this.monitor;
    if (!m) {
      this.monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.monitor.enable();
      this.windowStart = now;
      return null;
    }
    const figures =
      m.count > 0
        ? { delayP50: lateMs(m.percentile(50)), delayP99: lateMs(m.percentile(99)), delayMax: lateMs(m.max) }
        : null;
    if (now - this.windowStart >= WINDOW_MS) {
      m.reset();
      this.windowStart = now;
    }
    return figures;
  }
}
