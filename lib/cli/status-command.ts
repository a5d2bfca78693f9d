import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { requestStatus } from '../control/client.js';
import { formatStatus } from '../control/format.js';
import { controlSocketPath } from '../control/protocol.js';
import { masterPid } from './control.js';

interface StatusFlags {
  pid?: string;
  controlSocket?: string;
  json?: boolean;
}

/** `tsgund status`: the master and its workers, read from the control socket. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the master and its workers (pid, generation, state, uptime, requests, RSS)')
    .option('-p, --pid <file>', "the master's pidfile (the control socket is <file>.sock)")
    .option('--control-socket <path>', 'the control socket, when it is not <pidfile>.sock')
    .option('--json', "print the status as JSON (with statsBind, the app's own prom-client metrics too)")
    .action(async (opts: StatusFlags) => {
      if (!opts.pid && !opts.controlSocket) throw new ConfigError('status needs -p PIDFILE or --control-socket PATH');
      const path = controlSocketPath(opts.controlSocket ?? null, opts.pid ?? null)!;
      // with a pidfile, "not running" is reported from it, before the socket is tried
      if (opts.pid) {
        const { pid } = await masterPid(opts.pid, opts.controlSocket ?? null);
        if (!existsSync(path))
          throw new ConfigError(
            `master ${pid} has no control socket at ${path}: if it was started with --control-socket, pass the same path`,
          );
      }
      const status = await requestStatus(path, undefined, opts.json === true);
      process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
    });
}
