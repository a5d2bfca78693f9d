import { requestStatus } from '../control/client.js';
import type { OperationKind, OperationOutcome } from '../protocol/status.js';
import { ConfigError, EXIT } from '../errors.js';
import { alive, locateMaster, type LocatedMaster, type MasterTarget } from './locate.js';

/** Control commands and the signal each sends to the master. */
export const CONTROL_SIGNALS = {
  reload: 'SIGHUP',
  stop: 'SIGTERM',
  quit: 'SIGQUIT',
  ttin: 'SIGTTIN',
  ttou: 'SIGTTOU',
  'reopen-logs': 'SIGUSR1',
  upgrade: 'SIGUSR2',
} as const satisfies Record<string, NodeJS.Signals>;
export type ControlCommand = keyof typeof CONTROL_SIGNALS;

const CONTROL_HELP: Record<ControlCommand, string> = {
  reload: 'HUP: re-read the config and replace the workers without dropping requests; waits for the outcome',
  stop: 'TERM: finish in-flight requests, then exit',
  quit: 'QUIT: stop at once',
  ttin: 'TTIN: one more worker',
  ttou: 'TTOU: one worker fewer',
  'reopen-logs': 'USR1: reopen log files (after logrotate)',
  upgrade: 'USR2: start a new master from the installed code, handing over the sockets; waits until it serves',
};
export const helpOf = (cmd: ControlCommand): string => CONTROL_HELP[cmd];

/** The commands that wait for an outcome the master reports, and which. */
const REPORTED: Partial<Record<ControlCommand, OperationKind>> = { reload: 'reload', upgrade: 'upgrade' };
export const reportsOutcome = (cmd: ControlCommand): boolean => REPORTED[cmd] !== undefined;

/** How long `reload` and `upgrade` wait for the outcome by default, in seconds. */
export const DEFAULT_OUTCOME_TIMEOUT = 120;
const POLL_MS = 100;

export interface ControlOptions {
  /** stop/quit: seconds to wait for the master to exit. */
  wait: number;
  /** reload/upgrade: seconds to wait for the outcome; false: only send the signal. */
  timeout: number | false;
}

/** What a control command prints, and its exit code (non-zero: printed on stderr). */
export interface ControlResult {
  code: number;
  message: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The master `target` names, proven (see locateMaster): a stale pidfile must never get an unrelated process signalled. */
export const masterPid = (pidfile: string, controlSocket: string | null = null): Promise<LocatedMaster> =>
  locateMaster({ pid: pidfile, controlSocket: controlSocket ?? undefined }, 'this command');

/** Signal the master; stop and quit wait until it has exited, reload and upgrade until the master reports. */
export async function sendControl(
  cmd: ControlCommand,
  target: MasterTarget,
  opts: ControlOptions,
): Promise<ControlResult> {
  const master = await locateMaster(target, cmd);
  const sig = CONTROL_SIGNALS[cmd];
  const kind = REPORTED[cmd];
  if (kind && opts.timeout !== false) return signalAndWait(master, kind, opts.timeout);
  process.kill(master.pid, sig);
  if (cmd !== 'stop' && cmd !== 'quit')
    return { code: EXIT.ok, message: `sent ${sig.slice(3)} to master ${master.pid}` };
  const until = Date.now() + opts.wait * 1000;
  while (alive(master)) {
    if (Date.now() > until) throw new ConfigError(`master ${master.pid} is still running after ${opts.wait} s`);
    await sleep(50);
  }
  return { code: EXIT.ok, message: `master ${master.pid} stopped` };
}

/**
 * Send HUP (or USR2) and wait for the outcome of a reload that began after it
 * arrived: the master counts the signals it receives and reports the count
 * each outcome began at (see lib/master/outcomes.ts).
 */
async function signalAndWait(master: LocatedMaster, kind: OperationKind, timeout: number): Promise<ControlResult> {
  const sig = kind === 'reload' ? 'HUP' : 'USR2';
  if (!master.socket) {
    throw new ConfigError(
      `cannot wait for the ${kind}: master ${master.pid} has no control socket here ` +
        '(pass --control-socket PATH, or --no-wait to send the signal only)',
    );
  }
  const before = (await requestStatus(master.socket)).operations?.[kind].requested;
  process.kill(master.pid, `SIG${sig}`);
  if (before === undefined) {
    return { code: EXIT.ok, message: `sent ${sig} to master ${master.pid} (its release does not report the outcome)` };
  }
  const until = Date.now() + timeout * 1000;
  for (;;) {
    await sleep(POLL_MS);
    const last = await lastOutcome(master, kind);
    if (last && last.seq > before) return verdict(master, kind, last);
    if (Date.now() > until) {
      return {
        code: EXIT.timeout,
        message: `no outcome of the ${kind} of master ${master.pid} after ${timeout} s; it may still be under way (tsgund status shows it)`,
      };
    }
  }
}

/** The last outcome the master reports; a master that exited meanwhile is an error. */
async function lastOutcome(master: LocatedMaster, kind: OperationKind): Promise<OperationOutcome | null> {
  try {
    return (await requestStatus(master.socket!)).operations?.[kind].last ?? null;
  } catch (err) {
    if (!alive(master)) throw new ConfigError(`master ${master.pid} exited before the ${kind} ended`);
    throw err;
  }
}

const DONE: Record<OperationKind, string> = { reload: 'reloaded', upgrade: 'upgraded' };

function verdict(master: LocatedMaster, kind: OperationKind, last: OperationOutcome): ControlResult {
  if (last.result === 'ok') return { code: EXIT.ok, message: `${DONE[kind]} master ${master.pid}: ${last.detail}` };
  const keeps = kind === 'reload' ? 'the running workers keep serving' : `master ${master.pid} keeps serving`;
  return { code: EXIT.reloadFailed, message: `${kind} of master ${master.pid} failed, ${keeps}: ${last.reason}` };
}
