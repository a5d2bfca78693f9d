// Opening a log file as root without letting an unprivileged user choose what
// gets opened. The master usually runs as root and creates its log files
// before it hands them to workers: a symlink or a swapped directory planted
// by a local user must not turn that into "root appends to, creates or
// chowns a file of the attacker's choice".
//
// The rules:
// - Every directory on the way to the file must be pinned: it sits in a
//   directory that no untrusted user can change (owned by root or by us, not
//   world-writable), or in a sticky directory (/tmp) while owned by a trusted
//   user. Symlinks on the way are followed only when they are pinned too
//   (a root-owned /var/log/app -> /srv/logs works).
// - The file itself is opened with O_NOFOLLOW from the resolved directory, so
//   only its last component could still be planted, and that is checked on the
//   open descriptor (fstat): a regular file or a character device (a FIFO
//   only where it could not be planted); a file with other hard links is
//   refused where it could be planted.
// - Only a file this very open created (O_EXCL) is fchown'ed, through its
//   descriptor; nothing is ever chowned, chmodded or truncated by path.
import fs from 'node:fs';
import path from 'node:path';

const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fs.constants;
// O_NONBLOCK: a planted FIFO fails with ENXIO instead of blocking the master in open().
const OPEN_FLAGS = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const MAX_SYMLINKS = 40;
const STICKY = 0o1000;
/** Mode bits that let others than a directory's owner change its entries: for log paths, world-writable only. */
const LOG_WRITERS = 0o002;
/** For files that run as root (config files, hook modules), group-writable too, as sshd's StrictModes. */
export const CODE_WRITERS = 0o022;

/** A log path tsgund refuses to open, or cannot open; the message names the path and the reason. */
export class LogPathError extends Error {}

/** The names of this process's own stdout and stderr: written to directly, never opened. */
const STDIO_ALIASES: Record<string, 1 | 2> = {
  '/dev/stdout': 1,
  '/dev/fd/1': 1,
  '/proc/self/fd/1': 1,
  '/dev/stderr': 2,
  '/dev/fd/2': 2,
  '/proc/self/fd/2': 2,
};

/** fd 1 or 2 when `target` names stdout or stderr ('-' means `dash`), else null. */
export function stdioFdOf(target: string, dash: 1 | 2): 1 | 2 | null {
  if (target === '-') return dash;
  return STDIO_ALIASES[path.resolve(target)] ?? null;
}

export interface Owner {
  uid?: number;
  gid?: number;
}

export interface OpenOptions {
  /** Create the file when missing (the master does; a worker only reopens what the master created). */
  create: boolean;
  /** Who gets a file that this open creates (the workers' user). */
  owner?: Owner;
}

export type OpenedLog = { kind: 'stdio'; fd: 1 | 2 } | { kind: 'file'; fd: number; path: string; created: boolean };

const euid = process.geteuid?.() ?? 0;
const trusted = (uid: number): boolean => uid === 0 || uid === euid;

/** Why an untrusted user could add, rename or remove entries of this directory; null if none can. */
function plantable(dir: fs.Stats, writers: number): string | null {
  if (!trusted(dir.uid)) return `owned by uid ${dir.uid}`;
  if (dir.mode & writers & 0o002) return 'writable by everyone';
  if (dir.mode & writers) return `writable by its group (mode 0${(dir.mode & 0o7777).toString(8)})`;
  return null;
}

/** Can `entry`, found in `dir`, be replaced by an untrusted user? (Entries of a sticky dir only by their owner.) */
function replaceable(dir: fs.Stats, entry: fs.Stats, writers: number): string | null {
  const why = plantable(dir, writers);
  if (why === null) return null;
  return dir.mode & STICKY && trusted(entry.uid) && trusted(dir.uid) ? null : why;
}

const lstatOrNull = (p: string): fs.Stats | null => {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
};

export interface Resolved {
  /** The real path: no symlink left in it. */
  file: string;
  /** Why the file's own directory is open to untrusted users, or null. */
  dirPlantable: string | null;
  /** Why an untrusted user could replace the file itself (its directory, a sticky one excepted), or null. */
  fileReplaceable: string | null;
}

/**
 * Walk `target` from / with lstat, following only pinned symlinks; see the
 * rules above. `writers`: the mode bits that make a directory open to others.
 */
export function resolvePinned(target: string, writers = LOG_WRITERS): Resolved | 1 | 2 {
  let parts = path.resolve(target).split('/').filter(Boolean);
  let links = 0;
  for (;;) {
    let dir = '/';
    let dirStat = fs.statSync('/');
    let followed = false;
    for (const [i, name] of parts.entries()) {
      const here = path.join(dir, name);
      const last = i === parts.length - 1;
      const st = lstatOrNull(here);
      if (st === null) {
        if (last) return { file: here, dirPlantable: plantable(dirStat, writers), fileReplaceable: null };
        throw new LogPathError(`${here} does not exist`);
      }
      const why = replaceable(dirStat, st, writers);
      if (st.isSymbolicLink()) {
        if (why !== null) throw new LogPathError(`refusing to follow symlink ${here}: ${dir} is ${why}`);
        if (++links > MAX_SYMLINKS) throw new LogPathError(`too many symlinks in ${target}`);
        // dir has no symlink left in it, so a relative target (even with ..) resolves lexically against it
        const next = path.resolve(dir, fs.readlinkSync(here), ...parts.slice(i + 1));
        const stdio = STDIO_ALIASES[next];
        if (stdio !== undefined) return stdio;
        parts = next.split('/').filter(Boolean);
        followed = true;
        break;
      }
      if (last) return { file: here, dirPlantable: plantable(dirStat, writers), fileReplaceable: why };
      if (!st.isDirectory()) throw new LogPathError(`${here} is not a directory`);
      if (why !== null) throw new LogPathError(`refusing directory ${here}: ${dir} is ${why}`);
      dir = here;
      dirStat = st;
    }
    if (!followed) throw new LogPathError(`${target} names no file`);
  }
}

/**
 * The directory checks above for a file that another call creates (a unix
 * socket, which bind(2) creates and never follows a symlink to): every
 * directory on the way is pinned, and so is the file's own directory, unless
 * it is sticky and owned by a trusted user, where only we could rename what
 * we create there. Throws LogPathError naming the path and the reason.
 */
export function checkSocketDirectory(target: string): void {
  const resolved = resolvePinned(target);
  if (typeof resolved === 'number') throw new LogPathError(`${target} names stdout or stderr`);
  if (resolved.dirPlantable === null) return;
  const dir = path.dirname(resolved.file);
  const st = fs.statSync(dir);
  if (!(st.mode & STICKY && trusted(st.uid))) {
    throw new LogPathError(`refusing ${resolved.file}: its directory ${dir} is ${resolved.dirPlantable}`);
  }
}

function openFd(file: string, create: boolean): { fd: number; created: boolean } {
  if (create) {
    try {
      return { fd: fs.openSync(file, OPEN_FLAGS | O_CREAT | O_EXCL, 0o640), created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return { fd: fs.openSync(file, OPEN_FLAGS), created: false };
}

function describe(err: unknown, file: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return `refusing to follow symlink ${file}`;
  if (code === 'ENXIO') return `${file} is a FIFO with no reader`;
  return `cannot open ${file}: ${code ?? String(err)}`;
}

/**
 * Open a log file for appending under the rules above. Throws LogPathError
 * with a one-line message; stdout and stderr (by any of their names) are
 * returned as fd 1 or 2 without an open.
 */
export function openLogFile(target: string, dash: 1 | 2, opts: OpenOptions): OpenedLog {
  const stdio = stdioFdOf(target, dash);
  if (stdio !== null) return { kind: 'stdio', fd: stdio };
  let resolved: Resolved | 1 | 2;
  let opened: { fd: number; created: boolean };
  try {
    resolved = resolvePinned(target);
    if (typeof resolved === 'number') return { kind: 'stdio', fd: resolved };
    opened = openFd(resolved.file, opts.create);
  } catch (err) {
    if (err instanceof LogPathError) throw err;
    throw new LogPathError(describe(err, target));
  }
  try {
    if (checkOpened(opened.fd, resolved)) opened.fd = blocking(opened.fd);
    if (opened.created && (opts.owner?.uid !== undefined || opts.owner?.gid !== undefined)) {
      fs.fchownSync(opened.fd, opts.owner.uid ?? -1, opts.owner.gid ?? -1);
    }
  } catch (err) {
    fs.closeSync(opened.fd);
    if (err instanceof LogPathError) throw err;
    throw new LogPathError(describe(err, target));
  }
  return { kind: 'file', path: target, ...opened };
}

/**
 * The same file opened again without O_NONBLOCK, through /proc: a pipe or a
 * device written in non-blocking mode fails with EAGAIN whenever its reader
 * lags. The checked descriptor pins the very file, so nothing can be swapped in.
 */
function blocking(fd: number): number {
  try {
    return fs.openSync(`/proc/self/fd/${fd}`, O_WRONLY | O_APPEND | O_NOCTTY);
  } finally {
    fs.closeSync(fd);
  }
}

/** Throws unless the opened file may be written; true when it is not a regular file. */
function checkOpened(fd: number, { file, dirPlantable }: Resolved): boolean {
  const st = fs.fstatSync(fd);
  // a FIFO only where nobody untrusted could have put it (a reader of it would get the log)
  const fifoOk = st.isFIFO() && dirPlantable === null;
  if (!st.isFile() && !st.isCharacterDevice() && !fifoOk) {
    throw new LogPathError(`refusing ${file}: not a regular file or a character device`);
  }
  // a hard link to /etc/shadow planted where untrusted users can write
  if (st.isFile() && st.nlink > 1 && dirPlantable !== null) {
    throw new LogPathError(`refusing ${file}: it has ${st.nlink} hard links and its directory is ${dirPlantable}`);
  }
  return !st.isFile();
}
