#!/usr/bin/env node
import './node-version-check.js';
import '../early-signals.js';
import { Command, CommanderError } from 'commander';
import { ConfigError, UserError, oneLine } from '../errors.js';
import { VERSION } from '../version.js';
import {
  CONTROL_SIGNALS,
  DEFAULT_OUTCOME_TIMEOUT,
  helpOf,
  reportsOutcome,
  sendControl,
  type ControlCommand,
} from './control.js';
import { addSettingOptions, parseEnvArgs, settingValues, type StartFlags } from './args.js';
import { usableCpus } from './usable-cpus.js';
import { basename, resolve } from 'node:path';
import type { CommandLine } from '../config/resolve.js';
import {
  appName,
  appsOf,
  cpuCount,
  exportsApps,
  isEcosystemFile,
  loadEcosystem,
  mayBeEcosystemFile,
  withEcosystem,
} from './ecosystem.js';
import { startAll } from './multi-start.js';
import { namesEcosystemFile, reloadEcosystem } from './ecosystem-reload.js';
import { INSECURE_FLAG, skipFileChecks } from '../trust/file-trust.js';
import { appArgument } from './dispatch.js';
import { registerLogs } from './logs-command.js';
import { registerLs } from './ls-command.js';
import { registerStartup } from './startup-command.js';
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

interface EcosystemFlags {
  only?: string;
  instances?: string;
}

/**
 * `-i N` (PM2's instances) and `-w max` (usable-cpus.ts): the worker count `-w`
 * takes; `-b none`: nothing bound (a background app).
 */
function pm2Counts(opts: Record<string, unknown> & EcosystemFlags): void {
  if (opts.instances !== undefined && opts.workers === undefined)
    opts.workers = cpuCount(opts.instances, 'command line: -i');
  if (opts.workers === 'max') opts.workers = usableCpus();
  if (Array.isArray(opts.bind) && opts.bind.length === 1 && opts.bind[0] === 'none') opts.bind = [];
}

/**
 * A PM2 ecosystem file where the app goes: one app (or `--only NAME`) runs as
 * if given on the command line (real flags win); several are each started as
 * a daemon (null: started, `exitCode` says how).
 */
async function ecosystemStart(cli: CommandLine, file: string, opts: StartFlags & EcosystemFlags, check: boolean) {
  const cwd = process.cwd();
  if (!isEcosystemFile(file) && !(mayBeEcosystemFile(file) && (await exportsApps(resolve(cwd, file))))) return cli;
  if (opts.only === undefined) {
    const apps = appsOf(await loadEcosystem(resolve(cwd, file)), basename(file)).filter((a) => a.autostart !== false);
    if (apps.length > 1 && !check && !opts.printConfig) {
      process.exit(await startAll(file, apps.map(appName), process.argv.slice(2)));
    }
    if (apps.length === 1) return withEcosystem(cli, file, cwd, appName(apps[0]!));
  }
  return withEcosystem(cli, file, cwd, opts.only ?? null);
}

const start = (name: string, description: string, check: boolean) =>
  addSettingOptions(program.command(name).description(description).argument('[app]', 'module[:export] to serve'))
    .option(INSECURE_FLAG, 'as root, load config, ecosystem and hook files that another user could have written')
    .option('--only <name>', 'with a PM2 ecosystem file: the one app to run (in the foreground unless -D)')
    .option('-i, --instances <N>', "PM2's spelling of --workers: a number, max (one per CPU) or -1 (all CPUs but one)")
    .action(async (app: string | undefined, opts: Record<string, unknown> & StartFlags & EcosystemFlags) => {
      // before any file is read: the check applies to the ecosystem file too
      if (opts.insecureConfigFiles) skipFileChecks();
      pm2Counts(opts);
      let cli: CommandLine = {
        configPath: opts.config ?? null,
        app: app ?? null,
        values: settingValues(opts, 'command line'),
      };
      if (app) cli = await ecosystemStart(cli, app, opts, check || opts.checkConfig === true);
      const envArgs = parseEnvArgs(process.env.TSGUND_CMD_ARGS);
      // the master's code is loaded only by the commands that run one: a control command starts faster
      const { runStart } = await import('./start.js');
      // exit explicitly: an upgraded master or a file watcher may still hold the loop
      process.exit(await runStart(cli, envArgs, { ...opts, checkConfig: check || opts.checkConfig }));
    });
start('start', 'run APP under a master process and a pool of workers', false);
start('check-config', 'validate the settings and load the app, then exit', true);

/** A number of seconds given to --wait or --timeout, or a one-line error. */
function seconds(flag: string, text: string): number {
  const n = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n > 0 && n <= 86_400)) throw new ConfigError(`${flag} is "${text}", expected seconds from 0 to 86400`);
  return n;
}

interface ControlFlags {
  pid?: string;
  controlSocket?: string;
  /** stop/quit: seconds; reload/upgrade: false with --no-wait. */
  wait: string | boolean;
  timeout?: string;
}

for (const cmd of Object.keys(CONTROL_SIGNALS) as ControlCommand[]) {
  const command = program
    .command(cmd)
    .description(helpOf(cmd))
    .argument('[name]', 'the master, by the name it runs under (tsgund ls lists them)')
    .option('-p, --pid <file>', "the master's pidfile")
    .option('--control-socket <path>', 'the control socket, when it is not <pidfile>.sock');
  if (reportsOutcome(cmd)) {
    command
      .option('--timeout <seconds>', 'how long to wait for the outcome', String(DEFAULT_OUTCOME_TIMEOUT))
      .option('--no-wait', 'send the signal and return at once, without waiting for the outcome');
  } else command.option('--wait <seconds>', 'with stop/quit: how long to wait for the master to exit', '60');
  command.action(async (name: string | undefined, opts: ControlFlags) => {
    const reported = reportsOutcome(cmd);
    const control = {
      wait: reported ? 0 : seconds('--wait', String(opts.wait)),
      timeout: reported && opts.wait !== false ? seconds('--timeout', String(opts.timeout)) : false,
    } as const;
    if (cmd === 'reload' && name && (await namesEcosystemFile(name)))
      process.exit(await reloadEcosystem(name, control));
    const { code, message } = await sendControl(cmd, { ...opts, name }, control);
    (code === 0 ? process.stdout : process.stderr).write(code === 0 ? `${message}\n` : `tsgund: ${message}\n`);
    process.exit(code);
  });
}

registerStatus(program);
registerLogs(program);
registerLs(program);
registerStartup(program);
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
