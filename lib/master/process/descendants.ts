// Nothing the app starts outlives its worker.
//
// Each worker leads a process group of its own (lib/worker/group-leader.ts),
// which what the app spawns joins. The master is a child subreaper
// (PR_SET_CHILD_SUBREAPER), so what outlives its parent is re-parented to the
// master rather than to PID 1: it stays in reach by pid, and the reaper
// (reaper.ts) reaps it when it exits. So:
//  - when a worker exits, what is left of its group gets TERM, and KILL after
//    gracefulTimeout (unless that pid is a worker again);
//  - at stop, every group left and every stray child of the master (a
//    process that left its group with setsid, as a `detached` child does,
//    and was re-parented here) gets TERM, then KILL, before the master exits.
// The master's own children (hooks, the USR2 master) share its group and
// are left alone.

import cluster from 'node:cluster';
import type { ErrorLog } from '../../log/error-line.js';
import { addonWith } from '../../native-addon.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { readFileSync, readdirSync } = process.getBuiltinModule('node:fs');

interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  zombie: boolean;
}

/** A process from /proc/PID/stat; null if gone. */
function procOf(pid: number): Proc | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), pgrp: Number(f[2]), zombie: f[0] === 'Z' };
  } catch {
    return null;
  }
}

/** Every process this /proc shows. */
function allProcs(): Proc[] {
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.flatMap((e) => (Number(e) > 0 ? [procOf(Number(e))].filter((p) => p !== null) : []));
}

/** Signal a process group; false when it no longer exists. */
function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Is `pid` a worker node:cluster still knows (alive, or its exit not handled yet)? */
export const isClusterWorker = (pid: number): boolean =>
  Object.values(cluster.workers ?? {}).some((w) => w?.process.pid === pid);

export class Descendants {
  /** Groups of exited workers that got TERM: pgid -> its KILL timer. */
  private readonly groups = new Map<number, NodeJS.Timeout>();

  constructor(
    private readonly log: ErrorLog,
    /** Is this pid a live worker (its group is not a leftover)? */
    private readonly isWorker: (pid: number) => boolean,
  ) {}

  /** Become a child subreaper; one warning when the addon cannot. */
  static start(log: ErrorLog, isWorker: (pid: number) => boolean): Descendants {
    const { native, error } = addonWith('setSubreaper', 'makeGroupLeader');
    try {
      if (!native) throw new Error(error);
      native.setSubreaper();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      log.warning(`Processes the app starts may outlive their worker: ${why}`);
    }
    return new Descendants(log, isWorker);
  }

  /** A worker exited: TERM what is left of its group now, KILL it after `graceMs`. */
  workerExited(pid: number, graceMs: number): void {
    if (!signalGroup(pid, 'SIGTERM')) return; // nothing left, or it never led a group
    this.log.info(`Stopping what worker ${pid} left running (its process group)`);
    clearTimeout(this.groups.get(pid));
    const timer = setTimeout(() => {
      this.groups.delete(pid);
      if (!this.isWorker(pid)) signalGroup(pid, 'SIGKILL');
    }, graceMs);
    timer.unref();
    this.groups.set(pid, timer);
  }

  /**
   * At stop, once the workers have exited: TERM every group left and every
   * stray child, wait up to `graceMs` for them to go, then KILL the rest.
   */
  async stop(graceMs: number): Promise<void> {
    const own = procOf(process.pid)?.pgrp;
    // children outside the master's group: re-parented here after they left their group
    const strays = allProcs().filter((p) => p.ppid === process.pid && p.pgrp !== own && !this.isWorker(p.pid));
    const groups = new Set<number>([...this.groups.keys(), ...strays.map((p) => p.pgrp)]);
    for (const t of this.groups.values()) clearTimeout(t);
    this.groups.clear();
    const strayPids = new Set(strays.map((p) => p.pid));
    // what still runs (a zombie is done: the reaper takes it) in those groups, or a stray itself
    const alive = () =>
      allProcs().filter(
        (p) =>
          !p.zombie && p.pid !== process.pid && !this.isWorker(p.pid) && (groups.has(p.pgrp) || strayPids.has(p.pid)),
      );
    const signal = (sig: NodeJS.Signals) => {
      for (const p of alive()) {
        try {
          process.kill(p.pid, sig);
        } catch {
          // gone meanwhile
        }
      }
    };
    if (!alive().length) return;
    signal('SIGTERM');
    const until = performance.now() + graceMs;
    while (alive().length && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    const left = alive().length;
    signal('SIGKILL');
    if (left) this.log.warning(`Killed ${left} process(es) the app left running`);
  }
}
