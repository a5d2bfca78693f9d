import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../errors.js';
import type { UnixSocketAccess } from '../../listeners/handles.js';

/** Who workers run as: ids for the fork, and the environment that goes with them. */
export interface WorkerIdentity {
  uid?: number;
  gid?: number;
  /** The user's name, for initgroups (absent for a numeric uid that NSS does not know). */
  user?: string;
  /** HOME, USER and LOGNAME of the user (empty when only the group changes). */
  env: Record<string, string>;
  /** Apply the user's supplementary groups (`initgroups`); otherwise the worker keeps only `gid`. */
  initgroups: boolean;
}

/** A row of `getent DATABASE KEY` split on ':', or null when NSS has no such entry. */
function getent(database: 'passwd' | 'group', key: string, setting: string): string[] | null {
  const done = spawnSync('getent', [database, key], { encoding: 'utf8' });
  if (done.error) {
    // without getent only numeric ids can be used
    if (/^\d+$/.test(key)) return null;
    throw new ConfigError(`setting '${setting}': cannot look up '${key}': getent: ${done.error.message}`);
  }
  // exit 2: no such key; anything else is a failed lookup
  if (done.status === 2) return null;
  if (done.status !== 0) {
    throw new ConfigError(`setting '${setting}': cannot look up '${key}': getent ${database} exited ${done.status}`);
  }
  return done.stdout.split('\n')[0]!.split(':');
}

function lookupUser(user: string): Pick<WorkerIdentity, 'uid' | 'gid' | 'user' | 'env'> {
  const row = getent('passwd', user, 'user');
  if (row) {
    const [name, , uid, gid, , home] = row as [string, string, string, string, string, string];
    return { uid: Number(uid), gid: Number(gid), user: name, env: { HOME: home, USER: name, LOGNAME: name } };
  }
  if (!/^\d+$/.test(user)) throw new ConfigError(`setting 'user': no such user '${user}'`);
  // a bare uid with no passwd entry (a container's USER 1000): its group is the same number
  return { uid: Number(user), gid: Number(user), env: { HOME: '/', USER: user, LOGNAME: user } };
}

function lookupGroup(group: string, setting = 'group'): number {
  const row = getent('group', group, setting);
  if (row) return Number(row[2]);
  if (!/^\d+$/.test(group)) throw new ConfigError(`setting '${setting}': no such group '${group}'`);
  return Number(group);
}

/**
 * Resolve `user` and `group` through NSS (getent, so LDAP and sssd users work
 * as well as /etc/passwd); numeric ids are accepted as they are. Null when
 * no privilege drop is asked for.
 */
export function resolveWorkerIdentity(
  user: string | null,
  group: string | null,
  initgroups: boolean,
): WorkerIdentity | null {
  if (!user && !group) {
    if (initgroups) throw new ConfigError(`setting 'initgroups': needs 'user'`);
    return null;
  }
  if (process.getuid?.() !== 0) {
    throw new ConfigError(
      `settings 'user'/'group' (${user ?? ''}${group ? ':' + group : ''}) need the master to run as root`,
    );
  }
  const identity: WorkerIdentity = { env: {}, initgroups };
  if (user) Object.assign(identity, lookupUser(user));
  if (group) identity.gid = lookupGroup(group);
  if (initgroups && identity.user === undefined) {
    throw new ConfigError(`setting 'initgroups': user '${user ?? ''}' has no passwd entry to take groups from`);
  }
  return identity;
}

const resolved = new WeakMap<object, WorkerIdentity | null>();

/** resolveWorkerIdentity for a settings object, looked up once per configuration (HUP reads a new one). */
export function workerIdentity(settings: { user: string | null; group: string | null; initgroups: boolean }) {
  if (!resolved.has(settings)) {
    resolved.set(settings, resolveWorkerIdentity(settings.user, settings.group, settings.initgroups));
  }
  return resolved.get(settings)!;
}

/**
 * Who gets the unix sockets tsgund binds, and their mode. The owner stays the
 * master's user (root): only the owner may chmod a file, so the app, running
 * as the workers' user, cannot undo `unixSocketMode`. The group is
 * `unixSocketGroup` (a proxy's group), else the workers' group, else the
 * master's own.
 */
export function unixSocketAccess(settings: {
  user: string | null;
  group: string | null;
  initgroups: boolean;
  unixSocketMode: number;
  unixSocketGroup: string | null;
}): UnixSocketAccess {
  const identity = workerIdentity(settings);
  const gid =
    settings.unixSocketGroup === null ? identity?.gid : lookupGroup(settings.unixSocketGroup, 'unixSocketGroup');
  return { mode: settings.unixSocketMode, gid };
}

/** Set in a worker forked as root for initgroups: what lib/worker/drop-privileges switches to. */
export const DROP_ENV = 'TSGUND_DROP';
const DROP_MODULE = fileURLToPath(new URL('../../worker/drop-privileges.cjs', import.meta.url));

/**
 * How to fork a worker as `identity`: ids for the fork and its environment
 * (`appEnv` is the app's own, rawEnv; it wins over HOME, USER and LOGNAME).
 *
 * Without initgroups, the fork itself switches to uid/gid (libuv calls
 * setgroups(0) first, so no supplementary group is kept) and Node never runs
 * as root in the worker. initgroups needs root in the child, so the worker
 * starts as root with a --require put first in NODE_OPTIONS: it switches
 * before any other preload or the app loads, and then puts NODE_OPTIONS back.
 */
export function workerFork(
  identity: WorkerIdentity | null,
  appEnv: Record<string, string>,
): { ids: { uid?: number; gid?: number }; env: Record<string, string> } {
  if (identity === null) return { ids: { uid: undefined, gid: undefined }, env: appEnv };
  const env = { ...identity.env, ...appEnv };
  if (!identity.initgroups) return { ids: { uid: identity.uid, gid: identity.gid }, env };
  const nodeOptions = env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? null;
  const drop = { uid: identity.uid, gid: identity.gid, user: identity.user, nodeOptions };
  return {
    ids: { uid: undefined, gid: undefined },
    env: {
      ...env,
      [DROP_ENV]: JSON.stringify(drop),
      NODE_OPTIONS: `--require ${JSON.stringify(DROP_MODULE)}${nodeOptions ? ` ${nodeOptions}` : ''}`,
    },
  };
}
