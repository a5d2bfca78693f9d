import { EXIT, UserError, oneLine } from '../errors.js';
import { requireApp, resolveSettings, type CommandLine } from '../config/resolve.js';
import { isDaemonChild, reportToStarter, watchStarter } from '../daemon/ready-pipe.js';
import { PARENT_ENV } from '../listeners/inherited.js';
import { Arbiter } from '../master/arbiter.js';
import { resolveAppModule } from '../worker/app-loader.js';
import type { StartFlags } from './args.js';

/**
 * App code that runs in the master (check-config, preload) must never listen
 * there: node:cluster's primary would open the port itself. Its listen() is
 * ignored; the workers serve the app.
 * Loaded on demand: a plain start needs neither module in the master.
 */
async function loadAppInMaster(app: string, cwd: string, withStack: boolean) {
  const [{ loadApp }, { interceptListen }] = await Promise.all([
    import('../worker/app-loader.js'),
    import('../worker/listen-hook.js'),
  ]);
  interceptListen(() => {}, { passOwnCalls: true });
  // PM2 apps call process.send('ready') unguarded: the master has no parent to tell
  process.send ??= ((message: unknown) => message === 'ready') as NonNullable<typeof process.send>;
  return loadApp(app, cwd, { withStack });
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
      requireApp(settings);
      await loadAppInMaster(settings.app!, settings.chdir ?? cwd, settings.loglevel === 'debug');
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
    if (settings.preload)
      await loadAppInMaster(requireApp(settings), settings.chdir ?? cwd, settings.loglevel === 'debug');
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
