import { chownSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export interface WorkerIds {
  uid?: number;
  gid?: number;
}

/** Look a name or number up in /etc/passwd or /etc/group (Node has no getpwnam). */
function lookup(file: string, nameOrId: string): string[] | undefined {
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.split(':'));
  return /^\d+$/.test(nameOrId)
    ? (rows.find((r) => r[2] === nameOrId) ?? [nameOrId, '', nameOrId, nameOrId])
    : rows.find((r) => r[0] === nameOrId);
}

/** The uid/gid workers run as (`user`, `group`); empty when no drop is asked for. */
export function workerIds(user: string | null, group: string | null): WorkerIds {
  if (!user && !group) return {};
  if (process.getuid?.() !== 0) {
    throw new ConfigError(
      `settings 'user'/'group' (${user ?? ''}${group ? ':' + group : ''}) need the master to run as root`,
    );
  }
  const ids: WorkerIds = {};
  if (user) {
    const row = lookup('/etc/passwd', user);
    if (!row) throw new ConfigError(`setting 'user': no such user '${user}'`);
    ids.uid = Number(row[2]);
    ids.gid = Number(row[3]);
  }
  if (group) {
    const row = lookup('/etc/group', group);
    if (!row) throw new ConfigError(`setting 'group': no such group '${group}'`);
    ids.gid = Number(row[2]);
  }
  return ids;
}

/** Workers write their own log lines: hand them the log files before they start. */
export function chownLogFiles(paths: Array<string | null>, ids: WorkerIds): void {
  if (ids.uid === undefined && ids.gid === undefined) return;
  for (const path of paths) {
    if (!path || path === '-') continue;
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o640));
    chownSync(path, ids.uid ?? -1, ids.gid ?? -1);
  }
}
