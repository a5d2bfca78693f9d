// The run directory: where every master registers under its name (a control
// socket `<name>.sock`, and the pidfile `<name>.pid` of a daemon started
// without -p), so that `tsgund ls` and `tsgund reload NAME` find it.

import { basename, extname, isAbsolute, join } from 'node:path';
import { ConfigError, errnoOf } from '../errors.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { lstatSync, mkdirSync } = process.getBuiltinModule('node:fs');

/** Overrides the run directory (tests, or several independent sets of masters). */
export const RUN_DIR_ENV = 'TSGUND_RUN_DIR';

/** A name that is safe as a file name: no slash, no leading dot, short enough for a socket path. */
const NAME_RE = /^[A-Za-z0-9_@][A-Za-z0-9_.@-]{0,63}$/;

export const isValidName = (name: string): boolean => NAME_RE.test(name);

/**
 * The run directory and where its path came from: $TSGUND_RUN_DIR, else
 * /run/tsgund for root, else $XDG_RUNTIME_DIR/tsgund, else /tmp/tsgund-UID
 * (sudo -u, cron and containers leave XDG_RUNTIME_DIR unset; the directory
 * is then checked as for any other, so a squatted one is refused).
 */
export function runDirPath(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): string {
  const own = env[RUN_DIR_ENV]?.trim();
  if (own) {
    if (!isAbsolute(own)) throw new ConfigError(`${RUN_DIR_ENV} is ${JSON.stringify(own)}, expected an absolute path`);
    return own;
  }
  if (uid === 0) return '/run/tsgund';
  const xdg = env.XDG_RUNTIME_DIR?.trim();
  return xdg && isAbsolute(xdg) ? join(xdg, 'tsgund') : `/tmp/tsgund-${uid}`;
}

/**
 * Why `dir` must not be used (null when it is fine): it must be a real
 * directory (never a symlink) of this user, writable by no one else.
 */
export function runDirProblem(dir: string, uid = process.geteuid?.() ?? 0): string | null {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(dir);
  } catch (err) {
    return errnoOf(err);
  }
  if (!st.isDirectory()) return st.isSymbolicLink() ? 'it is a symbolic link' : 'it is not a directory';
  if (st.uid !== uid) return `it belongs to uid ${st.uid}, not to uid ${uid}`;
  if (st.mode & 0o022) return `it is writable by others (mode 0${(st.mode & 0o777).toString(8)})`;
  return null;
}

/** The run directory, created if missing (0755 for root, 0700 otherwise) and checked; throws a one-line error. */
export function ensureRunDir(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.geteuid?.() ?? 0;
  const dir = runDirPath(env, uid);
  try {
    mkdirSync(dir, { recursive: true, mode: uid === 0 ? 0o755 : 0o700 });
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw new ConfigError(`cannot create the run directory ${dir}: ${errnoOf(err)}`);
  }
  const problem = runDirProblem(dir, uid);
  if (problem) throw new ConfigError(`run directory ${dir} is not safe to use: ${problem} (set ${RUN_DIR_ENV})`);
  return dir;
}

/** The run directory for reading (null when it does not exist); one that is not safe is an error. */
export function existingRunDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = runDirPath(env);
  const problem = runDirProblem(dir);
  if (problem === 'ENOENT') return null;
  if (problem) throw new ConfigError(`run directory ${dir} is not safe to use: ${problem} (set ${RUN_DIR_ENV})`);
  return dir;
}

/** A master's control socket in the run directory. */
export const registeredSocket = (dir: string, name: string): string => join(dir, `${name}.sock`);

/** The pidfile of a daemon started without -p. */
export const registeredPidfile = (dir: string, name: string): string => join(dir, `${name}.pid`);

/**
 * The name a master registers under: `--name` (or the ecosystem's `name`),
 * else, while that is the default `tsgund`, the app's file name without its
 * extension (`server` for `./server.ts:app`, `api` for `@acme/api`).
 */
export function registeredName(name: string, app: string | null): string {
  if (name !== 'tsgund' || !app) return name;
  const module = app.replace(/:[A-Za-z_$][\w$]*$/, '');
  const file = basename(module);
  return file.slice(0, file.length - extname(file).length) || name;
}
