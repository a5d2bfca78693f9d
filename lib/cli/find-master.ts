// A running master found by its name (`tsgund top NAME`): the process titled
// `NAME: master [APP]`, and its control socket beside the pidfile it holds
// open. Linux only (/proc); reading another user's descriptors takes root,
// as signalling its master would.
import { ConfigError } from '../errors.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { existsSync, readFileSync, readdirSync, readlinkSync } = process.getBuiltinModule('node:fs');

/** Masters whose process title is exactly `name: master [...]`. */
export function mastersNamed(name: string, proc = '/proc'): number[] {
  const prefix = `${name}: master [`;
  const pids: number[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`${proc}/${entry}/cmdline`, 'utf8').startsWith(prefix)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/**
 * Where the control socket of master `pid` may be: `<file>.sock` for each
 * file it holds open that has one (it holds its pidfile open, and its control
 * socket is `<pidfile>.sock` unless --control-socket moved it).
 */
export function controlSocketCandidates(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    throw new ConfigError(`cannot read the descriptors of master ${pid}: run as its user or root, or use -p PIDFILE`);
  }
  const paths = new Set<string>();
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('/') && !target.startsWith('/dev/') && existsSync(`${target}.sock`))
        paths.add(`${target}.sock`);
    } catch {
      // closed meanwhile
    }
  }
  return [...paths];
}

/** The one master named `name`, or a one-line error: none, or several. */
export function masterNamed(name: string): number {
  const pids = mastersNamed(name);
  if (pids.length === 1) return pids[0]!;
  if (!pids.length) throw new ConfigError(`no master named '${name}' is running (see --name); or use -p PIDFILE`);
  throw new ConfigError(`${pids.length} masters are named '${name}' (pids ${pids.join(', ')}): use -p PIDFILE`);
}
