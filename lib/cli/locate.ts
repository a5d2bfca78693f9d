import { requestStatus } from '../control/client.js';
import { controlSocketPath } from '../control/protocol.js';
import { existingRunDir, isValidName, registeredSocket, runDirPath } from '../control/run-dir.js';
import type { StatusSnapshot } from '../protocol/status.js';
import { ConfigError } from '../errors.js';
import { inspectPidfile, notAMaster, startTicks, stillRunning } from '../master/process/master-proof.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { existsSync, lstatSync, statSync } = process.getBuiltinModule('node:fs');

/** How a control command names its master: a NAME in the run directory, -p PIDFILE or --control-socket PATH. */
export interface MasterTarget {
  name?: string;
  pid?: string;
  controlSocket?: string;
}

/** A live master, proven to be the one the target names. */
export interface LocatedMaster {
  pid: number;
  /** Its start time (see startTicks): names this very process. */
  started: string;
  /** Its control socket, or null when it has none. */
  socket: string | null;
}

/**
 * The master behind a control socket: the socket must belong to the user the
 * answering pid runs as (so a socket planted by someone else proves nothing),
 * and the pid must still be the same process afterwards.
 */
async function provenBySocket(socket: string): Promise<LocatedMaster & { status: StatusSnapshot }> {
  const status = await requestStatus(socket, 5000);
  const started = startTicks(status.pid);
  let owner: number | null = null;
  try {
    owner = statSync(`/proc/${status.pid}`).uid;
  } catch {
    // gone
  }
  if (started === null || owner === null) throw new ConfigError(`master ${status.pid} (${socket}) has exited`);
  if (lstatSync(socket).uid !== owner) {
    throw new ConfigError(`control socket ${socket} does not belong to the user of pid ${status.pid}: not signalled`);
  }
  return { pid: status.pid, started, socket, status };
}

/** The control socket registered under `name`, or a one-line error saying why there is none. */
export function socketOfName(name: string): string {
  if (!isValidName(name)) throw new ConfigError(`'${name}' is not a master's name (letters, digits, _ . @ -)`);
  const dir = existingRunDir();
  const path = dir && registeredSocket(dir, name);
  if (!path || !existsSync(path)) {
    throw new ConfigError(
      `no master named '${name}' is registered in ${dir ?? runDirPath()} (tsgund ls lists the running ones)`,
    );
  }
  return path;
}

/** Find and prove the master `target` names; `command` is for the error when it names none. */
export async function locateMaster(target: MasterTarget, command: string): Promise<LocatedMaster> {
  if (target.pid) {
    const found = await inspectPidfile(target.pid, target.controlSocket ?? null);
    if (found.kind !== 'master') throw new ConfigError(notAMaster(target.pid, found));
    const socket = controlSocketPath(target.controlSocket ?? null, target.pid)!;
    return { pid: found.pid, started: found.started, socket: existsSync(socket) ? socket : null };
  }
  const socket = target.controlSocket ?? (target.name ? socketOfName(target.name) : null);
  if (!socket) throw new ConfigError(`${command} needs a NAME, -p PIDFILE or --control-socket PATH`);
  const { pid, started } = await provenBySocket(socket);
  return { pid, started, socket };
}

/** Is the master still the same live process? */
export const alive = (m: LocatedMaster): boolean => stillRunning(m.pid, m.started);
