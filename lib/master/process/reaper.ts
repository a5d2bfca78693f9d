import cluster from 'node:cluster';
import type { ErrorLog } from '../../log/error-line.js';
import { loadNativeAddon, type NativeAddon } from '../../native-addon.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { readFileSync, readdirSync, readlinkSync } = process.getBuiltinModule('node:fs');

/**
 * Zombie reaping for a master that runs as PID 1 (a container started without
 * `--init`) or as a child subreaper.
 *
 * Processes the app orphans (`sh -c 'sleep 1 &'` leaves `sleep` behind) are
 * re-parented to PID 1; when they exit they stay zombies until PID 1 waits for
 * them. Node cannot: it has no waitpid(-1), and libuv waits only for the pids it
 * spawned, each by pid (waitpid(pid, WNOHANG) for every process handle, in the
 * poll phase after a SIGCHLD). A waitpid(-1) here would steal the exit of a
 * cluster worker from libuv, and the master would never learn that it died.
 *
 * So the native part (native/reaper, an N-API addon shipped prebuilt for linux
 * x64 glibc and musl and arm64 glibc, built with native/reaper/build.cjs elsewhere, and
 * optional) only peeks — waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT) — and reaps
 * exactly one pid on request. This module decides which pids are safe:
 *  - never a current worker (the master's handles, `cluster.workers`) nor a
 *    pid the caller names;
 *  - only a zombie already seen by the previous sweep (same pid and start
 *    time). A sweep runs from a timer; between two timer callbacks the event
 *    loop passes its poll phase, where libuv reaps every exited child it
 *    spawned. A zombie still there one loop turn later is nobody's in this
 *    process: not a worker, not the USR2 child master, not a `systemd-notify`
 *    or a hook's child_process. The start time guards against pid reuse.
 * Cost: one waitid() per tick while nothing has exited; a /proc scan only when
 * some child is a zombie.
 */

type Native = Pick<NativeAddon, 'peek' | 'reap' | 'isSubreaper'>;

/** The addon, or why it is unavailable. */
export const loadReaperAddon = loadNativeAddon;

/** Fields after the command name in /proc/<pid>/stat: [state, ppid, …]; null if gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Zombie children of this process: pid -> start time (clock ticks after boot). */
function zombieChildren(): Map<number, string> {
  const out = new Map<number, string>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (entry.charCodeAt(0) > 57) continue; // not a digit: /proc/self, /proc/sys, …
    const pid = Number(entry);
    if (!(pid > 0)) continue;
    const f = statFields(pid);
    // field 3 is the state, 4 the ppid, 22 the start time
    if (f && f[0] === 'Z' && Number(f[1]) === process.pid) out.set(pid, f[19] ?? '');
  }
  return out;
}

/** Is /proc this process's PID namespace's? (Else its pids are not ours.) */
function procIsOurs(): boolean {
  try {
    return readlinkSync('/proc/self') === String(process.pid);
  } catch {
    return false;
  }
}

export class Reaper {
  /** Zombies seen by the last sweep: pid -> start time. */
  private seen = new Map<number, string>();
  private readonly procOk = procIsOurs();

  private constructor(
    private readonly native: Native,
    private readonly log: ErrorLog,
  ) {}

  /**
   * A reaper when this master must reap orphans (PID 1 or a subreaper), else
   * null. As PID 1 without the addon it logs one warning and returns null.
   */
  static forMaster(log: ErrorLog): Reaper | null {
    const { native, error } = loadReaperAddon();
    if (process.pid === 1) {
      if (native) {
        log.debug('Running as PID 1: reaping orphaned processes');
        return new Reaper(native, log);
      }
      log.warning(
        `Running as PID 1 without the zombie reaper: ${error}. Zombies will not be reaped: orphaned processes ` +
          'the app leaves behind stay zombies. Run the container with an init (docker run --init, or tini as ' +
          'the entrypoint), or build the addon where a C compiler is: node node_modules/tsgund/native/reaper/build.cjs',
      );
      return null;
    }
    if (native?.isSubreaper()) {
      log.debug('Running as a child subreaper: reaping orphaned processes');
      return new Reaper(native, log);
    }
    return null;
  }

  /** Reap every orphan that has been a zombie since the previous sweep. Call from a timer. */
  sweep(): void {
    let first: number;
    try {
      first = this.native.peek();
    } catch (err) {
      this.log.error('zombie reaper: waitid failed', err);
      return;
    }
    if (first <= 0) {
      this.seen.clear();
      return;
    }
    // Without our own /proc (a PID namespace whose /proc was not remounted),
    // the peeked pid is all we can see; the rest wait for later sweeps.
    const zombies = this.procOk ? zombieChildren() : new Map([[first, '']]);
    // the workers: libuv waits for them itself (and the one-sweep delay below covers any other child of ours)
    const mine = new Set<number>();
    for (const w of Object.values(cluster.workers ?? {})) if (w?.process.pid) mine.add(w.process.pid);
    const seen = new Map<number, string>();
    for (const [pid, start] of zombies) {
      if (mine.has(pid)) continue;
      if (this.seen.get(pid) === start) this.reapOne(pid);
      else seen.set(pid, start);
    }
    this.seen = seen;
  }

  private reapOne(pid: number): void {
    let r: [number, number, number] | null;
    try {
      r = this.native.reap(pid);
    } catch (err) {
      this.log.error(`zombie reaper: cannot reap ${pid}`, err);
      return;
    }
    if (!r) return;
    this.log.debug(`Reaped orphaned process ${pid} (${r[2] >= 0 ? `killed by signal ${r[2]}` : `exit code ${r[1]}`})`);
  }
}
