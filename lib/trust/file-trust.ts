// Files that run as root must be root's alone, as sshd's StrictModes requires
// of authorized_keys. A config file is code (or settings that choose users,
// paths and hooks), and the master that loads it usually runs as root: a
// `.tsgundrc.cjs` that the app's user planted in a directory it owns would run
// as root at the next `tsgund check-config`. So, when the master runs as root,
// a config file, a PM2 ecosystem file and every module one of them imports must
// be owned by root and writable by no one else, and so must every directory
// above it, except a root-owned sticky one such as /tmp. Symlinks are followed
// only where they could not have been planted (the walk of pinned-path.ts).
//
// "Root" means uid 0 only, not the user who ran sudo (SUDO_UID): the
// environment proves nothing, and the account that deploys the app is the one
// this check guards against. A master that is not root loads nothing with more
// rights than its user has, so nothing is checked then.
import { dirname } from 'node:path';
import { ConfigError, errnoOf } from '../errors.js';
import { CODE_WRITERS, UnsafePathError, resolvePinned } from './pinned-path.js';
import type { Stats } from 'node:fs';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const fs = process.getBuiltinModule('node:fs');

/** The one way to load such files anyway; a flag of `start` and `check-config` only, never a setting. */
export const INSECURE_FLAG = '--insecure-config-files';

/** A file that would run as root although another user could have written it. */
export class UntrustedFileError extends ConfigError {}

let enforced = process.geteuid?.() === 0;

/** Stop checking, for the rest of this process: the operator passed INSECURE_FLAG, or the master checked already. */
export function skipFileChecks(): void {
  enforced = false;
}

export const checkingFiles = (): boolean => enforced;

/**
 * Throws UntrustedFileError, naming the path and its owner or mode, unless
 * only root could have written `file`; `risk` says what the file would do.
 */
export function assertRootOnly(file: string, what: string, risk = 'it would run as root'): void {
  if (!enforced) return;
  const why = whyUntrusted(file);
  if (why !== null) {
    throw new UntrustedFileError(`refusing ${what} ${file}: ${why}; ${risk} (${INSECURE_FLAG} skips this check)`);
  }
}

const modeOf = (st: Stats): string => `0${(st.mode & 0o7777).toString(8)}`;

function whyUntrusted(file: string): string | null {
  let resolved: ReturnType<typeof resolvePinned>;
  let st: Stats;
  try {
    resolved = resolvePinned(file, CODE_WRITERS);
    if (typeof resolved === 'number') return 'it is not a regular file';
    st = fs.lstatSync(resolved.file);
  } catch (err) {
    return err instanceof UnsafePathError ? err.message : `cannot check it: ${errnoOf(err)}`;
  }
  const real = resolved.file === file ? '' : ` (${resolved.file})`;
  if (!st.isFile()) return `it${real} is not a regular file`;
  if (st.uid !== 0) return `it${real} is owned by uid ${st.uid}, not root`;
  if (st.mode & CODE_WRITERS) {
    return `it${real} has mode ${modeOf(st)}: writable by ${st.mode & 0o002 ? 'everyone' : 'its group'}`;
  }
  if (resolved.fileReplaceable !== null)
    return `its directory ${dirname(resolved.file)} is ${resolved.fileReplaceable}`;
  return null;
}
