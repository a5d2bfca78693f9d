// stackOnTimeout, the main thread's side: a heartbeat stamp in shared memory
// and the helper thread that watches it (hang-capture.ts). The helper reports
// through its own pipe to the master (HANG_REPORT_FD): the IPC channel belongs
// to the main thread, the one that is stuck.
//
// The helper is a worker_thread, about 13 MiB of memory and 100 ms of CPU, so
// it starts with the worker's first request, not at boot: a pool's start and
// reload do not pay for it, nor do workers that never serve. For the same
// reason node:worker_threads loads then, and node:inspector only in the helper
// (hang-capture.ts): together some 10 ms of every worker's boot.

/** Indexes into the shared BigInt64Array: the last heartbeat (hrtime ns) and 1 once watching stops (drain). */
export const BEAT = 0;
export const OFF = 1;

/** What the main thread passes the helper (its workerData). */
export interface HelperData {
  shared: BigInt64Array;
  fd: number;
  pid: number;
  /** Capture when no heartbeat came for this long (ms): before the master's timeout. */
  captureAfterMs: number;
  /** How long to wait for the main thread to pause before calling it blocked in native code. */
  pauseBudgetMs: number;
}

const HELPER = new URL('./hang-helper.js', import.meta.url);

/**
 * When the helper captures, relative to the master's timeout: this long
 * before it (a third of it, from 1 to 5 s; half of a timeout under 2 s), so that the capture (100 to 200
 * ms on a busy machine, most of it the debugger listing the loaded scripts)
 * and the master reading the report finish before the kill.
 */
export function hangTiming(timeoutMs: number): { captureAfterMs: number; pauseBudgetMs: number } {
  // below 2 s of timeout: half of it
  const lead = Math.min(5000, Math.max(Math.min(1000, timeoutMs / 2), timeoutMs / 3));
  return { captureAfterMs: timeoutMs - lead, pauseBudgetMs: Math.min(1000, lead / 2) };
}

export class HangWatch {
  private readonly shared = new BigInt64Array(new SharedArrayBuffer(16));
  private started = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly fd: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.beat();
  }

  /** Called with every heartbeat: the event loop turns. */
  beat(): void {
    Atomics.store(this.shared, BEAT, process.hrtime.bigint());
  }

  /** Draining: the master no longer times the worker out; the helper ends. */
  stop(): void {
    Atomics.store(this.shared, OFF, 1n);
  }

  /** Start the helper thread, once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.beat();
    const data: HelperData = { shared: this.shared, fd: this.fd, pid: process.pid, ...hangTiming(this.timeoutMs) };
    try {
      // no execArgv: a --require or --import meant for the app does not run in the helper
      const { Worker } = process.getBuiltinModule('node:worker_threads');
      const helper = new Worker(HELPER, { workerData: data, execArgv: [], stdout: true, stderr: true });
      helper.unref();
      helper.on('error', this.onError);
    } catch (err) {
      this.onError(err);
    }
  }
}
