import { ConfigError } from '../errors.js';
import { inspectPidfile, notAMaster, stillRunning } from '../master/process/master-proof.js';

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
  reload: 'HUP: re-read the config and replace the workers without dropping requests',
  stop: 'TERM: finish in-flight requests, then exit',
  quit: 'QUIT: stop at once',
  ttin: 'TTIN: one more worker',
  ttou: 'TTOU: one worker fewer',
  'reopen-logs': 'USR1: reopen log files (after logrotate)',
  upgrade: 'USR2: start a new master from the installed code, handing over the sockets',
};
export const helpOf = (cmd: ControlCommand): string => CONTROL_HELP[cmd];

/**
 * The live master named by `pidfile`, proven to be the tsgund master of that
 * file (see inspectPidfile), or a one-line error: a stale pidfile must never
 * get an unrelated process signalled.
 */
export async function masterPid(
  pidfile: string,
  controlSocket: string | null = null,
): Promise<{ pid: number; started: string }> {
  const found = await inspectPidfile(pidfile, controlSocket);
  if (found.kind !== 'master') throw new ConfigError(notAMaster(pidfile, found));
  return found;
}

/** Signal the master; stop and quit wait until it has exited (up to `waitSeconds`). */
export async function sendControl(cmd: ControlCommand, pidfile: string, waitSeconds: number): Promise<string> {
  const { pid, started } = await masterPid(pidfile);
  process.kill(pid, CONTROL_SIGNALS[cmd]);
  if (cmd !== 'stop' && cmd !== 'quit') return `sent ${CONTROL_SIGNALS[cmd].slice(3)} to master ${pid}`;
  const until = Date.now() + waitSeconds * 1000;
  while (stillRunning(pid, started)) {
    if (Date.now() > until) throw new ConfigError(`master ${pid} is still running after ${waitSeconds} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return `master ${pid} stopped`;
}
