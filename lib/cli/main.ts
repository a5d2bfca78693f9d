#!/usr/bin/env node
import './node-version-check.js';
import '../early-signals.js';
import { Command, CommanderError } from 'commander';
import { UserError, oneLine } from '../errors.js';
import { VERSION } from '../version.js';
import { CONTROL_SIGNALS, helpOf, sendControl, type ControlCommand } from './control.js';
import { addSettingOptions, parseEnvArgs, settingValues, type StartFlags } from './args.js';
import { isEcosystemFile, withEcosystem } from './ecosystem.js';
import { INSECURE_FLAG, skipFileChecks } from '../trust/file-trust.js';
import { appArgument } from './dispatch.js';
import { registerLogs } from './logs-command.js';
import { runStart } from './start.js';
import { registerStatus } from './status-command.js';
import { registerTop } from './top-command.js';

function fail(err: unknown): never {
  if (err instanceof UserError) {
    process.stderr.write(`tsgund: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`tsgund: unexpected error: ${oneLine(err)}\n`);
  process.exit(1);
}

const program = new Command('tsgund')
  .description("A pre-fork HTTP server for Node.js apps, driven by gunicorn's signals")
  .version(VERSION, '-v, --version', 'print the version')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`tsgund: ${text.replace(/^error: /, '')}`) });

const start = (name: string, description: string, check: boolean) =>
  addSettingOptions(program.command(name).description(description).argument('[app]', 'module[:export] to serve'))
    .option(INSECURE_FLAG, 'as root, load config, ecosystem and hook files that another user could have written')
    .action(async (app: string | undefined, opts: Record<string, unknown> & StartFlags) => {
      // before any file is read: the check applies to the ecosystem file too
      if (opts.insecureConfigFiles) skipFileChecks();
      let cli = { configPath: opts.config ?? null, app: app ?? null, values: settingValues(opts, 'command line') };
      // a PM2 ecosystem file: its first app, as if given on the command line (real flags win)
      if (app && isEcosystemFile(app)) cli = await withEcosystem(cli, app, process.cwd());
      const envArgs = parseEnvArgs(process.env.TSGUND_CMD_ARGS);
      // exit explicitly: an upgraded master or a file watcher may still hold the loop
      process.exit(await runStart(cli, envArgs, { ...opts, checkConfig: check || opts.checkConfig }));
    });
start('start', 'run APP under a master process and a pool of workers', false);
start('check-config', 'validate the settings and load the app, then exit', true);

for (const cmd of Object.keys(CONTROL_SIGNALS) as ControlCommand[]) {
  program
    .command(cmd)
    .description(helpOf(cmd))
    .requiredOption('-p, --pid <file>', "the master's pidfile")
    .option('--wait <seconds>', 'with stop/quit: how long to wait for the master to exit', '60')
    .action(async (opts: { pid: string; wait: string }) => {
      process.stdout.write((await sendControl(cmd, opts.pid, Number(opts.wait))) + '\n');
    });
}

registerStatus(program);
registerLogs(program);
registerTop(program);

/**
 * `tsgund app.js` and `tsgund -w 4 app.js` mean `tsgund start …`, as with
 * gunicorn, and a bare `tsgund` starts the app the config file names; -V is
 * kept as another spelling of -v. A word that is neither a command nor an
 * app is a mistyped command: it fails here, before anything binds.
 */
function withDefaultCommand(argv: string[]): string[] {
  const [first] = argv.slice(2);
  if (first === '-V') return [...argv.slice(0, 2), '-v'];
  const commands = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  const own = new Set(['-h', '--help', '-v', '--version', 'help']);
  if (first !== undefined && (commands.includes(first) || own.has(first))) return argv;
  if (first !== undefined && !first.startsWith('-')) appArgument(first, commands, process.cwd());
  return [...argv.slice(0, 2), 'start', ...argv.slice(2)];
}

try {
  await program.parseAsync(withDefaultCommand(process.argv));
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 1);
  fail(err);
}
