import { requestStatus } from '../../control/client.js';
import { controlSocketPath } from '../../control/protocol.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } =
  process.getBuiltinModule('node:fs');

/** The pid in a pidfile, read without following a symlink; null unless a regular file holds one. */
export function readPid(path: string): number | null {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at the path must not hang the reader
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(32);
    const text = buf.subarray(0, readSync(fd, buf)).toString().trim();
    return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** What a pidfile says, once checked against the process it names. */
export type PidfileState =
  | { kind: 'missing' }
  | { kind: 'invalid' }
  | { kind: 'dead'; pid: number }
  | { kind: 'stale'; pid: number }
  /** Neither /proc nor the control socket would tell this user. */
  | { kind: 'denied'; pid: number; socket: string }
  /** `started` identifies this very process: a pid reused later has another start time. */
  | { kind: 'master'; pid: number; started: string };

/**
 * A process's start time in clock ticks since boot (/proc/PID/stat field 22),
 * or null once it is gone or a zombie. Together with the pid it names one
 * process for good: a reused pid comes with a later start time.
 */
export function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count from the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? null : (fields[19] ?? null);
  } catch {
    return null;
  }
}

/** Is the process `pid` that started at `started` still running? */
export const stillRunning = (pid: number, started: string): boolean => startTicks(pid) === started;

/**
 * Does `pid` hold `path` open? A master keeps its pidfile open for its whole
 * life, so this names the master of this very file (same device and inode),
 * which no command line can: the master's title overwrites its argv in
 * /proc/PID/cmdline. Null when /proc cannot tell (another user's process).
 */
export function holdsFile(pid: number, path: string): boolean | null {
  let file: { dev: number; ino: number };
  let fds: string[];
  try {
    file = statSync(path);
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  return fds.some((fd) => {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      return st.dev === file.dev && st.ino === file.ino;
    } catch {
      return false; // closed meanwhile
    }
  });
}

/**
 * Does the master's control socket say that it is `pid`? For a master that
 * does not hold its pidfile open (an older release). The socket must belong
 * to the user `pid` runs as, so a socket planted by someone else proves nothing.
 */
async function controlSocketNames(pid: number, socket: string): Promise<boolean | 'denied'> {
  try {
    if (lstatSync(socket).uid !== statSync(`/proc/${pid}`).uid) return false;
    return (await requestStatus(socket, 2000)).pid === pid;
  } catch (err) {
    return err instanceof Error && /^permission denied/.test(err.message) ? 'denied' : false;
  }
}

/**
 * Check the pid a pidfile names before anyone signals it: it must be a live
 * tsgund master of this pidfile, not an unrelated process that reused the pid.
 * `controlSocket` is the master's controlSocket setting, when known.
 */
export async function inspectPidfile(path: string, controlSocket: string | null = null): Promise<PidfileState> {
  const pid = readPid(path);
  if (pid === null) return lstatOrNull(path) ? { kind: 'invalid' } : { kind: 'missing' };
  const started = startTicks(pid);
  if (started === null) return { kind: 'dead', pid };
  const holds = holdsFile(pid, path);
  const socket = controlSocketPath(controlSocket, path)!;
  const answer = holds === true || (await controlSocketNames(pid, socket));
  // the same start time afterwards: the proof was about this process, not one that reused its pid meanwhile
  if (!stillRunning(pid, started)) return { kind: 'dead', pid };
  if (answer === true) return { kind: 'master', pid, started };
  return holds === null && answer === 'denied' ? { kind: 'denied', pid, socket } : { kind: 'stale', pid };
}

function lstatOrNull(path: string): object | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** The one-line refusal for a pidfile that does not name a live master. */
export function notAMaster(path: string, state: Exclude<PidfileState, { kind: 'master' }>): string {
  switch (state.kind) {
    case 'missing':
      return `pidfile ${path} does not exist: is tsgund running with -p ${path}?`;
    case 'invalid':
      return `pidfile ${path} does not hold a pid`;
    case 'dead':
      return `pidfile ${path} names pid ${state.pid}, which is not running (stale pidfile)`;
    case 'denied':
      return `permission denied on control socket ${state.socket}: cannot tell whether pid ${state.pid} is the master of ${path}; run as the master's user or root`;
    case 'stale':
      return `pidfile ${path} is stale: pid ${state.pid} is not the tsgund master of it, so it gets no signal`;
  }
}
