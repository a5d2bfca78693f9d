// A worker's logs in one owner, the counterpart of the master's MasterLogs
// (master/logs/master-logs.ts): the error log on the descriptor the master
// opened for it (a file, its stderr, or the pipe to the master's
// transports), the access log (imported only when the settings have one, so
// a worker without it boots without its code), the app's output captured
// into the error log, and USR1: each log takes the descriptor the master
// handed over before the signal (log/fd-handover.ts), or else opens its path
// again. The runtime and main.ts call it; it calls neither.

import type { Settings } from '../config/types.js';
import type { AccessLog } from '../log/access-log.js';
import type { ErrorLog } from '../log/error-line.js';
import { createWorkerErrorLog } from '../log/error-pipe.js';
import { type HandedLogs, takeHandedLogs } from '../log/fd-handover.js';
import type { WorkerLogFds } from '../protocol/messages.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { closeSync } = process.getBuiltinModule('node:fs');

export class WorkerLogs {
  private accessLog: AccessLog | null = null;

  constructor(
    private readonly settings: Settings,
    /** Where the master put each log (the WorkerSpec's logFds). */
    private readonly fds: WorkerLogFds,
    /** The error log: on the descriptor the master passed, unless a test gives its own. */
    readonly error: ErrorLog = createWorkerErrorLog(settings, fds.errorlog, fds.errorlogPipe === true),
  ) {}

  /** The access log, once openAccess() opened it; null without one. */
  get access(): AccessLog | null {
    return this.accessLog;
  }

  /** captureOutput: the app's stdout and stderr become lines of the error log (info and error). Call before any app code. */
  captureOutput(): void {
    if (!this.settings.captureOutput) return;
    const capture =
      (level: 'info' | 'error') =>
      (chunk: string | Uint8Array): boolean => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
        for (const line of text.split('\n')) if (line) this.error[level](line);
        return true;
      };
    process.stdout.write = capture('info') as typeof process.stdout.write;
    process.stderr.write = capture('error') as typeof process.stderr.write;
  }

  /** Open the access log on the descriptor the master opened for it (its module imported only now); null without one. */
  async openAccess(): Promise<AccessLog | null> {
    const { settings, fds } = this;
    if (!settings.accesslog || fds.accesslog === null) return null;
    const { createAccessLog } = await import('../log/access-log.js');
    const { accessLogFormat, accessLogBuffered } = settings;
    this.accessLog = createAccessLog(
      { accesslog: settings.accesslog, accessLogFormat, accessLogBuffered },
      fds.accesslog,
    );
    return this.accessLog;
  }

  /**
   * USR1: each log takes the descriptor the master handed over for it, or
   * opens its path again. Returns why a log could not be reopened (it keeps
   * writing to the old file), or null when all were.
   */
  reopen(): string | null {
    return reopenLogs({ errorlog: this.error, accesslog: this.accessLog }, this.fds.handover);
  }

  /**
   * Once the signal handlers are installed: a USR1 that came while the logs
   * were being set up was ignored, so take the files the master handed over
   * for it (and open no path).
   */
  takeWaiting(): void {
    reopenLogs({ errorlog: this.error, accesslog: this.accessLog }, this.fds.handover, { handedOnly: true });
  }

  /** Resolves once every line logged before it was called is written. */
  close(): Promise<void> {
    return Promise.all([this.error.close(), this.accessLog?.close()]).then(() => undefined);
  }
}

/** A worker's log as USR1 sees it: reopen(fd) takes the master's descriptor, reopen() opens the path. */
interface Reopenable {
  reopen(handed?: number): void;
}

/** The fresh descriptors the master sent before the signal; null when none came (or none can). */
function handed(handoverFd: number | undefined): HandedLogs | null {
  if (handoverFd === undefined) return null;
  try {
    return takeHandedLogs(handoverFd);
  } catch {
    return null; // the socket is gone (a master that exits): the paths are left
  }
}

/**
 * Each log takes the descriptor handed over for it, or else opens its path
 * again (not with `handedOnly`: then a log without a handed descriptor is
 * left as it is). Returns why a log could not be reopened, or null when all were.
 */
export function reopenLogs(
  logs: { errorlog: Reopenable; accesslog: Reopenable | null },
  handoverFd: number | undefined,
  { handedOnly = false, take = handed }: { handedOnly?: boolean; take?: typeof handed } = {},
): string | null {
  const fresh = take(handoverFd) ?? {};
  const failures: string[] = [];
  for (const key of ['errorlog', 'accesslog'] as const) {
    const log = logs[key];
    const fd = fresh[key];
    if (!log || (handedOnly && fd === undefined)) {
      if (fd !== undefined) closeSync(fd);
      continue;
    }
    try {
      log.reopen(fd);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  return failures.length > 0 ? failures.join('; ') : null;
}
