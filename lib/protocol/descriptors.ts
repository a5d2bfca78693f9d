// The descriptor numbers a worker inherits at fork, beside stdio: both sides
// must agree on them, so they live here rather than in the master's log code.

/** Where a worker finds the log files the master opened for it (master-log-files.ts, stdioFor). */
export const WORKER_LOG_FDS = { errorlog: 4, accesslog: 5 } as const satisfies Record<string, number>;
/** A worker's end of the socket its log files come through on USR1 (log/fd-handover.ts). */
export const WORKER_HANDOVER_FD = 6;
/**
 * A worker's end of the pipe its hang reports go to the master through: a
 * helper thread writes them there, since the main thread, which owns the IPC
 * channel, is the one that is stuck (lib/worker/hang-watch.ts).
 */
export const HANG_REPORT_FD = 7;
