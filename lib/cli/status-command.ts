import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { requestStatus } from '../control/client.js';
import { formatStatus } from '../control/format.js';
import { controlSocketPath } from '../control/protocol.js';
import type { StatusSnapshot } from '../protocol/status.js';
import { masterPid } from './control.js';

export interface MasterFlags {
  pid?: string;
  controlSocket?: string;
}

/** The status of the master named by `-p PIDFILE` or `--control-socket PATH`, from its control socket. */
export async function masterStatus(opts: MasterFlags, command: string, appMetrics = false): Promise<StatusSnapshot> {
  if (!opts.pid && !opts.controlSocket) throw new ConfigError(`${command} needs -p PIDFILE or --control-socket PATH`);
  const path = controlSocketPath(opts.controlSocket ?? null, opts.pid ?? null)!;
  // with a pidfile, "not running" is reported from it, before the socket is tried
  if (opts.pid) {
    const { pid } = await masterPid(opts.pid, opts.controlSocket ?? null);
    if (!existsSync(path))
      throw new ConfigError(
        `master ${pid} has no control socket at ${path}: if it was started with --control-socket, pass the same path`,
      );
  }
  return requestStatus(path, undefined, appMetrics);
}

/** `tsgund status`: the master and its workers, read from the control socket. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the master and its workers (pid, generation, state, uptime, requests, RSS)')
    .option('-p, --pid <file>', "the master's pidfile (the control socket is <file>.sock)")
    .option('--control-socket <path>', 'the control socket, when it is not <pidfile>.sock')
    .option('--json', "print the status as JSON (with statsBind, the app's own prom-client metrics too)")
    .action(async (opts: MasterFlags & { json?: boolean }) => {
      const status = await masterStatus(opts, 'status', opts.json === true);
      process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
    });
}
