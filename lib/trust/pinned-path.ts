// Walking a path as root without letting an unprivileged user choose where it
// leads. The master usually runs as root and opens log files, binds unix
// sockets and loads config files and modules: a symlink or a swapped
// directory planted by a local user must not turn any of that into "root
// writes, binds or runs what the attacker chose".
//
// The rules:
// - Every directory on the way must be pinned: it sits in a directory that no
//   untrusted user can change (owned by root or by us, not writable by others),
//   or in a sticky directory (/tmp) while owned by a trusted user. Symlinks on
//   the way are followed only when they are pinned too (a root-owned
//   /var/log/app -> /srv/logs works).
// - Which mode bits count as "writable by others" is the caller's: for log
//   paths, world-writable only; for code that runs as root, group-writable too.
// - The last component is the caller's to check on an open descriptor
//   (log/safe-open.ts) or by ownership (trust/file-trust.ts).
import fs from 'node:fs';
import path from 'node:path';

const MAX_SYMLINKS = 40;
export const STICKY = 0o1000;
/** Mode bits that let others than a directory's owner change its entries: for log paths, world-writable only. */
export const LOG_WRITERS = 0o002;
/** For files that run as root (config files, hook modules), group-writable too, as sshd's StrictModes. */
export const CODE_WRITERS = 0o022;

/** A path tsgund refuses to use, or cannot reach; the message names the path and the reason. */
export class UnsafePathError extends Error {}

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

const euid = process.geteuid?.() ?? 0;
export const trusted = (uid: number): boolean => uid === 0 || uid === euid;

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
        throw new UnsafePathError(`${here} does not exist`);
      }
      const why = replaceable(dirStat, st, writers);
      if (st.isSymbolicLink()) {
        if (why !== null) throw new UnsafePathError(`refusing to follow symlink ${here}: ${dir} is ${why}`);
        if (++links > MAX_SYMLINKS) throw new UnsafePathError(`too many symlinks in ${target}`);
        // dir has no symlink left in it, so a relative target (even with ..) resolves lexically against it
        const next = path.resolve(dir, fs.readlinkSync(here), ...parts.slice(i + 1));
        const stdio = STDIO_ALIASES[next];
        if (stdio !== undefined) return stdio;
        parts = next.split('/').filter(Boolean);
        followed = true;
        break;
      }
      if (last) return { file: here, dirPlantable: plantable(dirStat, writers), fileReplaceable: why };
      if (!st.isDirectory()) throw new UnsafePathError(`${here} is not a directory`);
      if (why !== null) throw new UnsafePathError(`refusing directory ${here}: ${dir} is ${why}`);
      dir = here;
      dirStat = st;
    }
    if (!followed) throw new UnsafePathError(`${target} names no file`);
  }
}

/**
 * The directory checks above for a file that another call creates (a unix
 * socket, which bind(2) creates and never follows a symlink to): every
 * directory on the way is pinned, and so is the file's own directory, unless
 * it is sticky and owned by a trusted user, where only we could rename what
 * we create there. Throws UnsafePathError naming the path and the reason.
 */
export function checkSocketDirectory(target: string): void {
  const resolved = resolvePinned(target);
  if (typeof resolved === 'number') throw new UnsafePathError(`${target} names stdout or stderr`);
  if (resolved.dirPlantable === null) return;
  const dir = path.dirname(resolved.file);
  const st = fs.statSync(dir);
  if (!(st.mode & STICKY && trusted(st.uid))) {
    throw new UnsafePathError(`refusing ${resolved.file}: its directory ${dir} is ${resolved.dirPlantable}`);
  }
}
