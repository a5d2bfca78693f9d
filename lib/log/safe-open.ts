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
import { type Owner, type Resolved, resolvePinned, stdioFdOf, UnsafePathError } from '../trust/pinned-path.js';

const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fs.constants;
// O_NONBLOCK: a planted FIFO fails with ENXIO instead of blocking the master in open().
const OPEN_FLAGS = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;

export interface OpenOptions {
  /** Create the file when missing (the master does; a worker only reopens what the master created). */
  create: boolean;
  /** Who gets a file that this open creates (the workers' user). */
  owner?: Owner;
}

export type OpenedLog = { kind: 'stdio'; fd: 1 | 2 } | { kind: 'file'; fd: number; path: string; created: boolean };

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
 * Open a log file for appending under the rules above. Throws UnsafePathError
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
    if (err instanceof UnsafePathError) throw err;
    throw new UnsafePathError(describe(err, target));
  }
  try {
    if (checkOpened(opened.fd, resolved)) opened.fd = blocking(opened.fd);
    if (opened.created && (opts.owner?.uid !== undefined || opts.owner?.gid !== undefined)) {
      fs.fchownSync(opened.fd, opts.owner.uid ?? -1, opts.owner.gid ?? -1);
    }
  } catch (err) {
    fs.closeSync(opened.fd);
    if (err instanceof UnsafePathError) throw err;
    throw new UnsafePathError(describe(err, target));
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
    throw new UnsafePathError(`refusing ${file}: not a regular file or a character device`);
  }
  // a hard link to /etc/shadow planted where untrusted users can write
  if (st.isFile() && st.nlink > 1 && dirPlantable !== null) {
    throw new UnsafePathError(`refusing ${file}: it has ${st.nlink} hard links and its directory is ${dirPlantable}`);
  }
  return !st.isFile();
}
