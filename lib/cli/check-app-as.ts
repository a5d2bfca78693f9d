import '../early-signals.js';
// `check-config -u USER` as root: the app is the user's code, so it loads in a
// process of that user's, never as root. The parent spawns this module with
// the workers' ids and environment (workerFork); it loads the app and exits
// with the code `start` would, the message on stderr.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EXIT, UserError, oneLine } from '../errors.js';
import { type WorkerIdentity, workerFork } from '../master/process/privileges.js';
import { loadAppInMaster } from './app-in-master.js';

const SELF = fileURLToPath(import.meta.url);
const ARGS_ENV = 'TSGUND_CHECK_APP';
/** The child's message is one line; more than this is cut, so a hostile app cannot fill the parent. */
const MAX_MESSAGE = 16 * 1024;

interface CheckArgs {
  app: string;
  cwd: string;
  withStack: boolean;
}

/** Load `app` as `identity` in a child process; throws a UserError with the child's message and code. */
export async function checkAppAs(identity: WorkerIdentity, args: CheckArgs): Promise<void> {
  const { ids, env } = workerFork(identity, {});
  const child = spawn(process.execPath, [SELF], {
    ...ids,
    cwd: args.cwd,
    env: { ...process.env, ...env, [ARGS_ENV]: JSON.stringify(args) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let message = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (message.length < MAX_MESSAGE) message += d.slice(0, MAX_MESSAGE - message.length);
  });
  const code = await new Promise<number>((resolve) => {
    child.once('error', () => resolve(EXIT.appLoad));
    child.once('close', (c, signal) => resolve(c ?? (signal ? EXIT.appLoad : 0)));
  });
  if (code !== 0) {
    const why = message.trim() || `the app's check process as ${identity.user ?? `uid ${identity.uid}`} failed`;
    throw new UserError(why, code);
  }
}

async function runChild(raw: string): Promise<void> {
  const args = JSON.parse(raw) as CheckArgs;
  try {
    await loadAppInMaster(args.app, args.cwd, args.withStack);
    process.exit(EXIT.ok);
  } catch (err) {
    process.stderr.write(`${err instanceof UserError ? err.message : `unexpected error: ${oneLine(err)}`}\n`);
    process.exit(err instanceof UserError ? err.exitCode : 1);
  }
}

const raw = process.env[ARGS_ENV];
if (raw !== undefined && process.argv[1] === SELF) {
  delete process.env[ARGS_ENV];
  void runChild(raw);
}
