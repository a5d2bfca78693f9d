import type { Command } from 'commander';
import { type CommandLine, resolveSettings } from '../config/resolve.js';
import { withEcosystem } from './ecosystem.js';
import { namesEcosystemFile } from './ecosystem-reload.js';
import { type LogLocations, logLocations } from '../protocol/status.js';
import { ConfigError } from '../errors.js';
import { stdioFdOf } from '../trust/pinned-path.js';
import { Follower, LogReadError, openLog, tailOf } from '../log/tail.js';
import { parseEnvArgs } from './args.js';
import { type MasterFlags, masterStatus } from './status-command.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { existsSync } = process.getBuiltinModule('node:fs');

interface LogsFlags extends MasterFlags {
  config?: string;
  /** With an ecosystem file of several apps: whose logs. */
  only?: string;
  lines: string;
  follow?: boolean;
}

/** PM2's `pm2 logs` shows 15 lines of each log. */
const DEFAULT_LINES = 15;
const MAX_LINES = 1_000_000;
const POLL_MS = 250;

const LOGS = {
  errorlog: { what: 'error log', stream: 'stderr', dash: 2, flag: '--error-logfile' },
  accesslog: { what: 'access log', stream: 'stdout', dash: 1, flag: '--access-logfile' },
} as const;

/** Where the logs are: asked from the running master (-p), else read from the config (-c, or searched for). */
async function locate(opts: LogsFlags): Promise<LogLocations> {
  if (opts.pid || opts.controlSocket || opts.name) return (await masterStatus(opts, 'logs')).logs;
  const cwd = process.cwd();
  let cli: CommandLine = { configPath: opts.config ?? null, app: null, values: {} };
  // a PM2 ecosystem file names the logs in its app entry (out_file, error_file)
  const eco =
    opts.config ?? ['ecosystem.config.js', 'ecosystem.config.cjs', 'pm2.config.js'].find((f) => existsSync(f));
  if (eco && (await namesEcosystemFile(eco))) {
    cli = await withEcosystem({ configPath: null, app: null, values: {} }, eco, cwd, opts.only ?? null, false);
  }
  const { settings } = await resolveSettings(cli, parseEnvArgs(process.env.TSGUND_CMD_ARGS), cwd);
  return logLocations(settings, cwd);
}

/** The log files to read, and for each log that is not a file, where its lines go instead. */
function filesOf(logs: LogLocations): { paths: string[]; notes: string[] } {
  const paths: string[] = [];
  const notes: string[] = [];
  for (const key of ['errorlog', 'accesslog'] as const) {
    const { what, stream, dash, flag } = LOGS[key];
    const target = logs[key];
    if (target === null) notes.push(`no ${what} is written (set ${flag} FILE)`);
    else if (stdioFdOf(target, dash) !== null) {
      notes.push(
        `the ${what} goes to the master's ${stream}: the terminal it runs in, or the journal under systemd ` +
          `(journalctl -u UNIT); set ${flag} FILE to keep it in a file`,
      );
    } else paths.push(target);
  }
  return { paths, notes };
}

function linesOf(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n <= MAX_LINES))
    throw new ConfigError(`logs: --lines is "${text}", expected an integer from 0 to ${MAX_LINES}`);
  return n;
}

/** Prints lines; with several files, a `==> path <==` header whenever the file changes (as tail does). */
function printer(many: boolean): (path: string, lines: string[]) => void {
  let last: string | null = null;
  return (path, lines) => {
    if (many && path !== last) {
      process.stdout.write(`${last === null ? '' : '\n'}==> ${path} <==\n`);
      last = path;
    }
    if (lines.length) process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  };
}

async function showLogs(opts: LogsFlags): Promise<void> {
  const n = linesOf(opts.lines);
  const { paths, notes } = filesOf(await locate(opts));
  if (!paths.length) throw new ConfigError(notes.join('; '));
  for (const note of notes) process.stderr.write(`tsgund: ${note}\n`);
  const files = paths.map((path) => {
    try {
      return { path, file: openLog(path) };
    } catch (err) {
      throw err instanceof LogReadError ? new ConfigError(err.message) : err;
    }
  });
  const print = printer(paths.length > 1);
  for (const { path, file } of files) print(path, tailOf(file, n));
  if (!opts.follow) return;
  // `tsgund logs -f | head` ends quietly when the reader goes away
  process.stdout.on('error', () => process.exit(0));
  const note = (message: string) => process.stderr.write(`tsgund: ${message}\n`);
  const followers = files.map(({ path, file }) => new Follower(path, file, print, note));
  // the timer keeps the command running until it is interrupted
  setInterval(() => {
    for (const f of followers) f.poll();
  }, POLL_MS);
}

/** `tsgund logs`: the last lines of the error and access logs, then (-f) the new ones, as `pm2 logs` shows them. */
export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description('show the last lines of the error and access log files, and follow them with -f (as pm2 logs)')
    .argument('[name]', 'the running master, by the name it runs under: show the logs it writes')
    .option('-p, --pid <file>', "the running master's pidfile: show the logs it writes")
    .option('--control-socket <path>', 'the control socket, when it is not <pidfile>.sock')
    .option(
      '-c, --config <file>',
      'without a NAME or -p: the config or PM2 ecosystem file naming the logs (default: searched for)',
    )
    .option('--only <name>', 'with an ecosystem file of several apps: the app whose logs to show')
    .option('-n, --lines <N>', 'lines of each log to show', String(DEFAULT_LINES))
    .option('-f, --follow', 'keep printing new lines, across log rotations, until interrupted')
    .action((name: string | undefined, opts: LogsFlags) => showLogs({ ...opts, name }));
}
