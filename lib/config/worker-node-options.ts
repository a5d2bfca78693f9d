// Node options for the workers (workerNodeOptions, --worker-node-option):
// what loads an OpenTelemetry SDK, a profiler or an APM agent in every worker,
// as `node --import ./otel.mjs app.js` would in a single process. They go to
// the workers' exec arguments (node:cluster's execArgv), never to
// NODE_OPTIONS, which the master would read too and a child of the app would
// inherit; a worker forked as root has switched to its user before any of them
// loads (privileges.ts). A module they name runs in every worker, so, while
// the master runs as root, its file must be root's alone, as a config file's
// (file-trust.ts).

import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { assertRootOnly, checkingFiles } from '../trust/file-trust.js';

/** Options whose value is a module the worker loads. */
const MODULE_OPTIONS = new Set(['--import', '--require', '--loader', '--experimental-loader']);

const EXPECTED =
  "one Node option such as '--import ./otel.mjs', '--require=./agent.cjs' or '--enable-source-maps' (an option Node allows in NODE_OPTIONS)";

const problem = (raw: string, why: string): ConfigError =>
  new ConfigError(`setting 'workerNodeOptions' has ${JSON.stringify(raw)}: ${why}; expected ${EXPECTED}`);

/**
 * The exec arguments of `options`: each is one option, its value after '='
 * or a space (`--import X`, `--import=X`), made `--name=value`. Only options
 * Node accepts in NODE_OPTIONS: those that act per process, never
 * `--eval` or a script of its own.
 */
export function workerExecArgv(options: readonly string[]): string[] {
  return options.map((raw) => {
    const trimmed = raw.trim();
    const cut = trimmed.search(/[=\s]/);
    const name = cut < 0 ? trimmed : trimmed.slice(0, cut);
    const value = cut < 0 ? null : trimmed.slice(cut + 1).trim();
    if (!/^--[a-z0-9][a-z0-9-]*$/.test(name)) throw problem(raw, 'not a long option (--name or --name=value)');
    if (!process.allowedNodeEnvironmentFlags.has(name)) throw problem(raw, `Node does not allow ${name} here`);
    if (MODULE_OPTIONS.has(name) && !value) throw problem(raw, `${name} needs a module`);
    return value === null ? name : `${name}=${value}`;
  });
}

/** The file a module option names, resolved as the worker will from `cwd` (a path or file: URL, or a package). */
function moduleFile(specifier: string, cwd: string): string {
  if (specifier.startsWith('file:')) return fileURLToPath(specifier);
  if (isAbsolute(specifier) || specifier.startsWith('./') || specifier.startsWith('../'))
    return resolve(cwd, specifier);
  return createRequire(join(cwd, 'noop.js')).resolve(specifier);
}

/**
 * While the master runs as root: every module the options name must be
 * root's alone. Throws a one-line ConfigError (UntrustedFileError) otherwise.
 */
export function checkWorkerModules(execArgv: readonly string[], cwd: string): void {
  if (!checkingFiles()) return;
  for (const arg of execArgv) {
    const eq = arg.indexOf('=');
    if (eq < 0 || !MODULE_OPTIONS.has(arg.slice(0, eq))) continue;
    const specifier = arg.slice(eq + 1);
    if (specifier.startsWith('node:')) continue;
    let file: string;
    try {
      file = moduleFile(specifier, cwd);
    } catch {
      throw new ConfigError(
        `setting 'workerNodeOptions': cannot find the module ${JSON.stringify(specifier)} from ${cwd} to check who owns it`,
      );
    }
    assertRootOnly(file, `worker module (workerNodeOptions ${arg.slice(0, eq)})`, 'it would run in every worker');
  }
}
