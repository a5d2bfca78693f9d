// The master's logs in one owner, as gunicorn's glogging.Logger is one
// class: the files it opens as root for itself and its workers
// (master-log-files.ts), the error log's transports and the workers' pipes
// to them (error-transports.ts), and the descriptors a worker inherits at fork
// and gets afresh on USR1 (log/fd-handover.ts). Those two parts are this
// object's: the arbiter, the lifecycle and the fork call only it, and it
// calls none of them.
//
// A USR1, top to bottom: reopen() reopens every file and hands the fresh
// descriptors to each worker's socket, then the arbiter signals the workers,
// and each one's WorkerLogs (worker/worker-logs.ts) takes them.

import type { Readable } from 'node:stream';
import type { Settings } from '../../config/types.js';
import { createErrorLog, type MasterErrorLog } from '../../log/error-log.js';
import { WORKER_HANDOVER_FD, WORKER_LOG_FDS } from '../../protocol/descriptors.js';
import type { WorkerLogFds } from '../../protocol/messages.js';
import { workerIdentity } from '../process/privileges.js';
import { ErrorTransports } from './error-transports.js';
import { MasterLogFiles } from './master-log-files.js';

/** A fork's stdio (see MasterLogFiles.stdioFor). */
export type LogStdio = Array<number | 'ipc' | 'ignore' | 'pipe'>;

/** What a forked worker's stdio holds, as node:child_process gives it. */
type ForkedStdio = ReadonlyArray<unknown>;

/** The owner of the files a configuration's workers write: created files go to -u/-g. */
const ownerOf = (settings: Settings) => workerIdentity(settings) ?? undefined;

export class MasterLogs {
  /** The master's error log: its file, and the transports once open() made them. */
  readonly log: MasterErrorLog;
  private readonly files: MasterLogFiles;
  private readonly transports: ErrorTransports;

  /**
   * Open the files of `settings` as root and the error log on them. Resolves
   * -u/-g now: an unknown user fails the start, not the first fork. Throws a
   * ConfigError naming the setting of a path that cannot be opened.
   */
  constructor(settings: Settings) {
    this.files = new MasterLogFiles(settings, ownerOf(settings));
    this.log = createErrorLog(settings, this.files.errorFile);
    this.transports = new ErrorTransports(this.log);
  }

  /** The start: the error log's transports of the first configuration; throws a one-line ConfigError. */
  open(settings: Settings, fileConfig: Record<string, unknown>): Promise<void> {
    return this.transports.configure(settings, fileConfig);
  }

  // ---- a fork ------------------------------------------------------------

  /** The stdio of a worker forked with `settings`: its log files, or its error-log pipe, and its handover socket. */
  stdioFor(settings: Settings): LogStdio {
    return this.files.stdioFor(settings, this.transports.piped);
  }

  /** Where that worker finds each log (its WorkerSpec's logFds). */
  workerFds(settings: Settings): WorkerLogFds {
    return this.files.workerFds(settings, this.transports.piped);
  }

  /** A worker forked with stdioFor(settings): its handover socket is remembered, its error-log pipe read. */
  attach(pid: number, stdio: ForkedStdio, settings: Settings): void {
    const handover = stdio.at(WORKER_HANDOVER_FD) as Parameters<MasterLogFiles['attach']>[0];
    this.files.attach(handover, settings, this.transports.piped);
    this.transports.attach(pid, stdio[WORKER_LOG_FDS.errorlog] as Readable | null | undefined);
  }

  // ---- HUP ---------------------------------------------------------------

  /** Loading a candidate: open the paths it adds. Throws a ConfigError, with nothing changed. */
  adopt(settings: Settings): void {
    this.files.adopt(settings, ownerOf(settings));
  }

  /** Once the candidate's onReload ran: its transports (a failure is logged, the running ones stay), every file reopened. */
  async apply(settings: Settings, fileConfig: Record<string, unknown>): Promise<void> {
    await this.transports.reconfigure(settings, fileConfig);
    this.files.reopen(this.log);
  }

  /** Once the candidate took over (or failed): close the files only the other configuration used. */
  keepOnly(settings: Settings): void {
    this.files.keepOnly(settings);
  }

  // ---- USR1 --------------------------------------------------------------

  /**
   * Before the workers get their USR1: every file reopened (never throws: a
   * file that cannot be keeps its descriptor and gets one error line), the
   * fresh descriptors sent to each worker's socket, where they wait for its
   * handler; then new transports from the same factory.
   */
  reopen(): void {
    this.files.reopen(this.log);
    this.files.handOver(this.log);
    void this.transports.refresh();
  }

  // ---- the stop ----------------------------------------------------------

  /** The workers' pipes read to their end (within a bound), then the error log and every file closed. */
  async close(): Promise<void> {
    await this.transports.drained();
    await Promise.all([this.log.close(), this.files.close()]);
  }
}
