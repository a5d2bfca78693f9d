import { fileURLToPath } from 'node:url';
import type { Settings } from '../config/types.js';
import { EXIT, UserError, oneLine } from '../errors.js';
import { requireApp, resolveSettings, type CommandLine } from '../config/resolve.js';
import { isDaemonChild, reportToStarter, watchStarter } from '../daemon/ready-pipe.js';
import { PARENT_ENV } from '../listeners/inherited.js';
import { Arbiter } from '../master/arbiter.js';
import { workerIdentity } from '../master/process/privileges.js';
import { assertRootOnly } from '../trust/file-trust.js';
import { resolveAppModule } from '../worker/app-loader.js';
import { loadAppInMaster } from './app-in-master.js';
import type { StartFlags } from './args.js';

/**
 * check-config loads the app as the workers' user (`-u`/`-g`) when it has
 * one: the app is that user's code and must not run as root by surprise.
 */
async function checkApp(settings: Settings, cwd: string): Promise<void> {
  const args = { app: requireApp(settings), cwd: settings.chdir ?? cwd, withStack: settings.loglevel === 'debug' };
  const identity = workerIdentity(settings);
  if (identity === null) await loadAppInMaster(args.app, args.cwd, args.withStack);
  else await (await import('./check-app-as.js')).checkAppAs(identity, args);
}

/**
 * --preload loads the app in the master, as root when the master is: with
 * workers of another user, the app module and the directories above it must
 * be root's alone, as config files are (trust/file-trust.ts).
 */
async function preload(settings: Settings, cwd: string): Promise<void> {
  const dir = settings.chdir ?? cwd;
  const app = requireApp(settings);
  if (workerIdentity(settings) !== null) {
    assertRootOnly(fileURLToPath(resolveAppModule(app, dir)), 'app module (loaded as root by --preload)');
  }
  await loadAppInMaster(app, dir, settings.loglevel === 'debug');
}

/** `tsgund start` (and check-config): returns the process exit code. */
export async function runStart(cli: CommandLine, envArgs: CommandLine | null, flags: StartFlags): Promise<number> {
  const cwd = process.cwd();
  let arbiter: Arbiter | null = null;
  // a daemon whose starter was interrupted stops as if told to: no master outlives an aborted start
  if (isDaemonChild()) watchStarter(() => process.kill(process.pid, 'SIGTERM'));
  try {
    const resolved = await resolveSettings(cli, envArgs, cwd);
    const { settings } = resolved;
    if (flags.printConfig) {
      process.stdout.write(JSON.stringify({ ...settings, configFile: resolved.configPath }, null, 2) + '\n');
      return EXIT.ok;
    }
    if (flags.checkConfig) {
      await checkApp(settings, cwd);
      process.stdout.write(
        `config ok${resolved.configPath ? ` (${resolved.configPath})` : ''}, app ${settings.app} loads\n`,
      );
      return EXIT.ok;
    }
    // a missing app fails here, before anything binds or forks
    resolveAppModule(requireApp(settings), settings.chdir ?? cwd);
    const upgraded = Boolean(process.env[PARENT_ENV]);
    if (settings.daemon && !isDaemonChild() && !upgraded) {
      const { startDaemon } = await import('../daemon/start-daemon.js'); // daemonize-process, for -D only
      const { code, message } = await startDaemon(process.argv.slice(2));
      (code === 0 ? process.stdout : process.stderr).write(code === 0 ? `${message}\n` : `tsgund: ${message}\n`);
      return code;
    }
    if (settings.preload) await preload(settings, cwd);
    arbiter = new Arbiter({ cli, envArgs, resolved, cwd });
    await arbiter.start();
    reportToStarter(`READY ${process.pid}`);
    return await arbiter.exited;
  } catch (err) {
    const code = err instanceof UserError ? err.exitCode : 1;
    const message = err instanceof UserError ? err.message : `unexpected error: ${oneLine(err)}`;
    // the verdict goes to stderr once, and into the error log when that is a file
    if (arbiter && !arbiter.logsToStderr) arbiter.errorLog.error(message);
    process.stderr.write(`tsgund: ${message}\n`);
    reportToStarter(`ERROR ${code} ${message}`);
    return code;
  }
}
