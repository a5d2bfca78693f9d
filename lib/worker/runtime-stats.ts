// A worker's runtime health for its heartbeats: event-loop delay and
// utilisation since the previous beat, the V8 heap against its limit, the
// garbage collector's pauses, and the open connections. node:perf_hooks and
// node:v8 cost a worker about 7 ms to load: they load with the first
// heartbeat (runtime.ts makes this object then), not during the boot.
import type { EventLoopUtilization, IntervalHistogram } from 'node:perf_hooks';
import type { RuntimeSample } from '../protocol/messages.js';

/**
 * The delay monitor's timer: each tick records how late it fired. 100 ms
 * (Node's default is 10) wakes an idle worker 10 times a second, and still
 * catches any stall of 100 ms or more.
 */
const RESOLUTION_MS = 100;

/** A tick's lateness in ms: the histogram records the whole interval between ticks. */
const lateMs = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);

export class RuntimeStats {
  private readonly perf = process.getBuiltinModule('node:perf_hooks');
  private readonly v8 = process.getBuiltinModule('node:v8');
  private readonly delay: IntervalHistogram = this.perf.monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private elu: EventLoopUtilization = this.perf.performance.eventLoopUtilization();
  private gcMs = 0;

  constructor() {
    const { PerformanceObserver } = this.perf;
    this.delay.enable();
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.gcMs += entry.duration;
    });
    gc.observe({ entryTypes: ['gc'] });
  }

  /** The figures since the previous call. */
  sample(connections: number): RuntimeSample {
    const d = this.delay;
    // an empty histogram (no tick since the last beat) says nothing: its min and max are sentinels
    const some = d.count > 0;
    const { performance } = this.perf;
    const elu = performance.eventLoopUtilization(this.elu);
    this.elu = performance.eventLoopUtilization();
    const heap = this.v8.getHeapStatistics();
    const sample: RuntimeSample = {
      delayP50: some ? lateMs(d.percentile(50)) : 0,
      delayP99: some ? lateMs(d.percentile(99)) : 0,
      delayMax: some ? lateMs(d.max) : 0,
      utilization: Math.round(elu.utilization * 1e4) / 1e4,
      heapUsed: heap.used_heap_size,
      heapLimit: heap.heap_size_limit,
      gcMs: Math.round(this.gcMs * 100) / 100,
      connections,
    };
    d.reset();
    return sample;
  }
}
