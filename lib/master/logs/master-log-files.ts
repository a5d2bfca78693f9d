import { ConfigError } from '../../errors.js';
import { LineFile } from '../../log/line-file.js';
import { openLogFile } from '../../log/safe-open.js';
import { type Owner, UnsafePathError } from '../../trust/pinned-path.js';
import { type ErrorLog, reopenEach } from '../../log/error-line.js';
import { canHandOver, type HandedLogs, handOver } from '../../log/fd-handover.js';
import type { WorkerLogFds } from '../../protocol/messages.js';
import { WORKER_HANDOVER_FD, WORKER_LOG_FDS } from '../../protocol/descriptors.js';
import { handleFd } from '../../internals/node-internals.js';

type Key = 'errorlog' | 'accesslog';

/** The master's end of a worker's handover socket: worker.process.stdio[WORKER_HANDOVER_FD]. */
interface Channel {
  once(event: 'close', listener: () => void): unknown;
}

interface LogSettings {
  errorlog: string;
  accesslog: string | null;
}

const dashOf = (key: Key): 1 | 2 => (key === 'errorlog' ? 2 : 1);

/**
 * The log files, opened by the master for itself and for its workers: a
 * part of MasterLogs (master-logs.ts), which alone uses it.
 *
 * The master runs as root and opens each file once, under the rules of
 * log/safe-open (no planted symlink followed, nothing chowned but a file it
 * has just created), and every worker inherits the descriptors at fork (fds 4
 * and 5). So a worker writes to files it could not open itself, in a
 * root-owned directory it cannot even enter, and nothing is ever chowned by
 * path. On USR1 the master reopens first, creating a missing file and giving
 * it to the workers' user, and sends each worker the fresh descriptors over
 * a socket the worker inherited at fork (fd 6, log/fd-handover.ts); so the
 * workers' user never needs to reach the log directory. Without the native
 * addon that sends them, a worker reopens the path itself (which needs
 * search permission on the directories and write permission on the file),
 * and one that cannot retires and is replaced.
 */
export class MasterLogFiles {
  /** Files (never stdout or stderr) by path: the current configuration's, plus the master's error log. */
  private readonly files = new Map<string, LineFile>();
  /** Targets that turned out to be stdout or stderr (such as /dev/stdout), by `key:target`. */
  private readonly stdio = new Map<string, 1 | 2>();
  /** The master's own error log: it stays on the path it started with. */
  readonly errorFile: LineFile;
  /** Each worker's handover socket, with the paths of the files it writes to. */
  private readonly channels = new Map<Channel, Partial<Record<Key, string>>>();
  /** Whether descriptors can be handed over (the native addon's sendFds and recvFds are there). */
  private readonly handing = canHandOver();

  /** Open the files of `settings`; a refused or unopenable path throws a ConfigError naming its setting. */
  constructor(settings: LogSettings, owner: Owner | undefined) {
    this.openMissing(settings, owner);
    const stdio = this.stdioOf('errorlog', settings);
    this.errorFile = stdio ? new LineFile({ kind: 'stdio', fd: stdio }) : this.files.get(settings.errorlog)!;
  }

  /** A fork's stdio: the master's stdout and stderr, the IPC channel, the log files the worker writes, the handover socket. */
  stdioFor(settings: LogSettings, errorPipe = false): Array<number | 'ipc' | 'ignore' | 'pipe'> {
    const fdOf = (key: Key) => this.fileOf(key, settings)?.fd ?? 'ignore';
    // errorPipe: the error log goes through the master's transports (error-transports.ts)
    const stdio: Array<number | 'ipc' | 'ignore' | 'pipe'> = [0, 1, 2, 'ipc'];
    stdio.push(errorPipe ? 'pipe' : fdOf('errorlog'), fdOf('accesslog'));
    // a socketpair(AF_UNIX, SOCK_STREAM): the fresh files come through it on USR1
    if (this.handing) stdio.push('pipe');
    return stdio;
  }

  /**
   * Remember the handover socket of a worker forked with stdioFor(settings,
   * errorPipe): which files it writes to. Forgotten when the worker is gone.
   */
  attach(channel: Channel | null | undefined, settings: LogSettings, errorPipe = false): void {
    if (!channel || !this.handing) return;
    const paths: Partial<Record<Key, string>> = {};
    for (const key of ['errorlog', 'accesslog'] as const) {
      if ((key === 'accesslog' || !errorPipe) && this.fileOf(key, settings)) paths[key] = settings[key]!;
    }
    this.channels.set(channel, paths);
    channel.once('close', () => this.channels.delete(channel));
  }

  /**
   * USR1, after reopen(): send every worker the descriptors of its files, before it
   * gets its signal (then they wait in its socket when its handler reads them).
   */
  handOver(log: ErrorLog): void {
    for (const [channel, paths] of this.channels) {
      const fd = handleFd(channel);
      if (fd === undefined || fd < 0) continue;
      const logs: HandedLogs = {};
      for (const key of ['errorlog', 'accesslog'] as const) {
        const file = paths[key] === undefined ? undefined : this.files.get(paths[key]);
        if (file) logs[key] = file.fd;
      }
      try {
        if (handOver(fd, logs) === 'full')
          log.warning(
            'a worker has not taken the log files of earlier USR1s: it stays on older files until a later one',
          );
      } catch {
        // the worker is exiting (EPIPE): its exit is handled elsewhere
      }
    }
  }

  /** The fd a worker forked with stdioFor writes each log to: 4 and 5 for files (4 for the pipe), else its own stdout or stderr. */
  workerFds(settings: LogSettings, errorPipe = false): WorkerLogFds {
    const fdIn = (key: Key): number | null => {
      if (!settings[key]) return null;
      return this.fileOf(key, settings) ? WORKER_LOG_FDS[key] : (this.stdioOf(key, settings) ?? dashOf(key));
    };
    const handover = this.handing ? { handover: WORKER_HANDOVER_FD } : {};
    if (errorPipe)
      return { errorlog: WORKER_LOG_FDS.errorlog, accesslog: fdIn('accesslog'), errorlogPipe: true, ...handover };
    return { errorlog: fdIn('errorlog')!, accesslog: fdIn('accesslog'), ...handover };
  }

  /**
   * Open the paths a reloaded configuration adds. Throws a ConfigError, with
   * nothing changed, when one cannot be opened.
   */
  adopt(settings: LogSettings, owner: Owner | undefined): void {
    this.openMissing(settings, owner);
  }

  /** Once a reload succeeded: close the files only the previous configuration used. */
  keepOnly(settings: LogSettings): void {
    for (const [path, file] of this.files) {
      if (file === this.errorFile || path === settings.errorlog || path === settings.accesslog) continue;
      this.files.delete(path);
      void file.close();
    }
  }

  /** USR1: reopen every file. A file that cannot be reopened keeps its descriptor and gets one error line. */
  reopen(log: ErrorLog): void {
    reopenEach(log, this.files.values());
  }

  close(): Promise<void> {
    const all = new Set([this.errorFile, ...this.files.values()]);
    return Promise.all([...all].map((f) => f.close())).then(() => undefined);
  }

  private fileOf(key: Key, settings: LogSettings): LineFile | null {
    const target = settings[key];
    return target ? (this.files.get(target) ?? null) : null;
  }

  /** 1 or 2 when the target of `key` turned out to be stdout or stderr (a path such as /dev/stdout). */
  private stdioOf(key: Key, settings: LogSettings): 1 | 2 | null {
    return this.stdio.get(`${key}:${settings[key]}`) ?? null;
  }

  private openMissing(settings: LogSettings, owner: Owner | undefined): void {
    const opened: LineFile[] = [];
    try {
      for (const key of ['errorlog', 'accesslog'] as const) {
        const target = settings[key];
        if (!target || this.files.has(target) || this.stdio.has(`${key}:${target}`)) continue;
        const file = openOne(key, target, owner);
        if (typeof file === 'number') this.stdio.set(`${key}:${target}`, file);
        else opened.push(file);
      }
    } catch (err) {
      for (const file of opened) void file.close();
      throw err;
    }
    for (const file of opened) this.files.set(file.target!, file);
  }
}

/** A LineFile for a file, or the fd (1 or 2) when the target is stdout or stderr. */
function openOne(key: Key, target: string, owner: Owner | undefined): LineFile | 1 | 2 {
  try {
    const reopen = { create: true, owner: owner };
    const opened = openLogFile(target, dashOf(key), reopen);
    return opened.kind === 'stdio' ? opened.fd : new LineFile(opened, { reopen });
  } catch (err) {
    if (err instanceof UnsafePathError) throw new ConfigError(`setting '${key}': ${err.message}`);
    throw err;
  }
}
