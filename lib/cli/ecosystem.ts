import { basename, dirname, join, resolve } from 'node:path';
import { loadModuleFresh } from '../config/load-file.js';
import type { CommandLine } from '../config/resolve.js';
import { validateLayer } from '../config/validate.js';
import { ConfigError, oneLine } from '../errors.js';
import { UntrustedFileError, assertRootOnly } from '../trust/file-trust.js';
import { pm2Field } from './pm2-fields.js';
import { usableCpus } from './usable-cpus.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { readFileSync } = process.getBuiltinModule('node:fs');

/** A PM2 ecosystem file by its name alone: ecosystem.config.js, ecosystem.json, … */
export const isEcosystemFile = (app: string): boolean =>
  /^ecosystem([.-][\w.-]*)?\.(js|cjs|mjs|json)$/.test(basename(app));

/** A `*.config.js` (pm2.config.js, …) may be an ecosystem file: it is one if it exports `apps`. */
export const mayBeEcosystemFile = (app: string): boolean =>
  /\.config\.(js|cjs|mjs)$/.test(basename(app)) && !/^tsgund\.config\./.test(basename(app));

type AnyRecord = Record<string, unknown>;

export interface Ecosystem {
  app: string;
  /** Settings, keyed as in a config file. */
  values: AnyRecord;
  /** Settings that stand in for defaults (the bind that the app's PORT and HOST imply): a config file wins. */
  defaults: AnyRecord;
  warnings: string[];
}

const MEMORY_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024 };

/** PM2's instances (and `-i`): a number, 'max' or 0 for every usable CPU (usable-cpus.ts), -N for all but N. */
export function cpuCount(instances: unknown, origin: string): number {
  if (instances === undefined) return 1;
  if (instances === 'max' || instances === 0 || instances === '0') return usableCpus();
  const n = Number(instances);
  // PM2: -1 is all CPUs but one
  if (n < 0 && Number.isInteger(n)) return Math.max(1, usableCpus() + n);
  if (Number.isInteger(n) && n > 0) return n;
  throw new ConfigError(`${origin}: instances is ${JSON.stringify(instances)}, expected a number, 'max' or -1`);
}

function mebibytes(value: unknown, origin: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG])?B?$/i.exec(String(value).trim());
  if (!m) throw new ConfigError(`${origin}: max_memory_restart is ${JSON.stringify(value)}, expected e.g. 300M or 1G`);
  return Math.ceil(Number(m[1]) * (m[2] ? MEMORY_UNITS[m[2].toUpperCase()]! : 1 / 1048576));
}

/** PM2's `uid` (alias `user`) and `gid`: a name or a numeric id, as `user` and `group` take them. */
function identity(value: unknown, field: string, origin: string): string {
  const ok = (typeof value === 'string' && /^[^\s:]+$/.test(value)) || (Number.isInteger(value) && Number(value) >= 0);
  if (!ok) {
    throw new ConfigError(`${origin}: ${field} is ${JSON.stringify(value)}, expected a user or group name or id`);
  }
  return String(value);
}

/** The app's `env`, with `env_<name>` over it when PM2's `--env <name>` was given. */
function envOf(app: AnyRecord, envName: string | null, origin: string): AnyRecord {
  const base = (app.env as AnyRecord | undefined) ?? {};
  if (envName === null) return base;
  const named = app[`env_${envName}`];
  if (!named || typeof named !== 'object') {
    const known = Object.keys(app).filter((k) => k.startsWith('env_'));
    throw new ConfigError(
      `${origin}: --env ${envName}: the app has no env_${envName} (it has ${known.join(', ') || 'none'})`,
    );
  }
  return { ...base, ...(named as AnyRecord) };
}

/**
 * What the app's PORT (and HOST) imply, as $PORT does for tsgund itself: the
 * bind when none is given. Under PM2 the app listened there on its own.
 */
function bindOf(env: AnyRecord, origin: string): AnyRecord {
  // no port, here or in tsgund's own environment: PM2 ran the script as a plain process
  // (a queue consumer), so nothing is bound and the app is ready once loaded
  if (env.PORT === undefined) return process.env.PORT ? {} : { bind: [] };
  const port = String(env.PORT).trim();
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    throw new ConfigError(`${origin}: env.PORT is ${JSON.stringify(env.PORT)}, expected an integer from 0 to 65535`);
  }
  const host = env.HOST === undefined ? '0.0.0.0' : String(env.HOST).trim();
  if (!host)
    throw new ConfigError(`${origin}: env.HOST is ${JSON.stringify(env.HOST)}, expected a host or an IP address`);
  return { bind: [`${host.includes(':') ? `[${host}]` : host}:${Number(port)}`] };
}

/** PM2's fields of `app` as tsgund settings in `into.values`; an unsupported field is a warning. */
function translateFields(
  app: AnyRecord,
  { values, cwd, origin, warnings }: { values: AnyRecord; cwd: string; origin: string; warnings: string[] },
): void {
  for (const [key, value] of Object.entries(app)) {
    switch (key) {
      case 'script':
      case 'instances':
      case 'env':
      case 'node_args':
      case 'interpreter_args':
      case 'cwd':
        break;
      case 'name':
        values.name = value;
        break;
      case 'max_memory_restart':
        values.maxMemory = mebibytes(value, origin);
        break;
      case 'kill_timeout':
        values.gracefulTimeout = Number(value) / 1000;
        break;
      case 'listen_timeout':
        values.bootTimeout = Number(value) / 1000;
        break;
      case 'watch':
        values.reload = Boolean(value);
        if (Array.isArray(value)) values.reloadExtraFiles = value.map((p) => resolve(cwd, String(p)));
        break;
      // who the app runs as is never dropped with a warning: a value that cannot be honoured fails the start
      case 'uid':
      case 'user': {
        const user = identity(value, key, origin);
        if (values.user !== undefined && values.user !== user) {
          throw new ConfigError(`${origin}: uid and user name different users, give one`);
        }
        values.user = user;
        break;
      }
      case 'gid':
        values.group = identity(value, key, origin);
        break;
      case 'args': // the package script's: see scriptOf
        if (!/^(npm|yarn|pnpm)$/.test(String(app.script))) otherField(key, value, origin, warnings);
        break;
      default:
        if (!simpleField(key, value, values, cwd)) otherField(key, value, origin, warnings);
    }
  }
  logFiles(app, values, cwd, warnings, origin);
}

/** Fields that become one setting as they are; false: not one of them. */
function simpleField(key: string, value: unknown, values: AnyRecord, cwd: string): boolean {
  if (key === 'wait_ready') values.waitReady = Boolean(value);
  else if (key === 'kill_signal') values.killSignal = String(value).toUpperCase();
  else if (key === 'pid_file') values.pidfile = resolve(cwd, String(value));
  else if (key === 'log_type') {
    if (value === 'json') values.logFormat = 'json';
  } else return false;
  return true;
}

/** A field without a setting of its own: its row in the table says whether it is harmless, warned or refused. */
function otherField(key: string, value: unknown, origin: string, warnings: string[]): void {
  const row = pm2Field(key);
  if (!row) {
    warnings.push(`${origin}: '${key}' is not a PM2 field, ignored`);
    return;
  }
  if ((key === 'exec_interpreter' || key === 'interpreter') && !/^(node|none)$/.test(basename(String(value)))) {
    throw new ConfigError(`${origin}: ${key} is ${JSON.stringify(value)}: tsgund runs Node apps only (node)`);
  }
  if (key === 'autorestart' && value === false)
    warnings.push(`${origin}: PM2 field 'autorestart: false' ignored: ${row.tsgund}`);
  if (row.verdict === 'warned') warnings.push(`${origin}: PM2 field '${key}' ignored: ${row.tsgund}`);
}

/**
 * out_file, error_file, log_file: the app's output is captured into the error
 * log, which is the error_file (else out_file, else log_file). tsgund keeps
 * one file: an out_file beside a different error_file is not written, and
 * the warning says so.
 */
function logFiles(app: AnyRecord, values: AnyRecord, cwd: string, warnings: string[], origin: string): void {
  const [out, err, all] = [app.out_file, app.error_file, app.log_file].map((f) =>
    typeof f === 'string' && f ? resolve(cwd, f) : null,
  );
  const file = err ?? out ?? all;
  if (!file) return;
  values.errorlog = file;
  values.captureOutput = true;
  for (const other of [out, all]) {
    if (other && other !== file) {
      warnings.push(
        `${origin}: ${other === out ? 'out_file' : 'log_file'} ${other} is not written: tsgund writes the app's output to one file, ${file}`,
      );
    }
  }
}

/** The apps of an ecosystem file's export (`{ apps: [...] }`, an array, or one app). */
export function appsOf(config: unknown, origin: string): AnyRecord[] {
  const apps = (config as AnyRecord | null)?.apps ?? config;
  const list = (Array.isArray(apps) ? apps : [apps]) as unknown[];
  list.forEach((app, i) => {
    if (!app || typeof app !== 'object' || typeof (app as AnyRecord).script !== 'string') {
      throw new ConfigError(`${origin}: expected apps[${i}].script, the app's main module`);
    }
  });
  return list as AnyRecord[];
}

/** An app's name as PM2 gives it: `name`, else the script's file name without its extension. */
export const appName = (app: AnyRecord): string =>
  typeof app.name === 'string' && app.name ? app.name : basename(String(app.script)).replace(/\.[^.]*$/, '');

/** The app named `only`, or the only one; a one-line error listing the names otherwise. */
function pick(apps: AnyRecord[], only: string | null, origin: string): AnyRecord {
  if (only === null && apps.length === 1) return apps[0]!;
  const names = apps.map(appName);
  const found = only === null ? undefined : apps[names.indexOf(only)];
  if (found) return found;
  throw new ConfigError(
    only === null
      ? `${origin} lists ${apps.length} apps (${names.join(', ')}): start them all with tsgund start ${origin}, or one with --only NAME`
      : `${origin} has no app named '${only}' (it has ${names.join(', ')})`,
  );
}

/** Translate one app of a PM2 ecosystem file into tsgund settings (`envName`: PM2's `--env`; `only`: its name). */
export function fromEcosystem(
  config: unknown,
  file: string,
  envName: string | null = null,
  only: string | null = null,
): Ecosystem {
  const origin = basename(file);
  const app = pick(appsOf(config, origin), only, origin);
  const warnings: string[] = [];
  const base = dirname(file);
  const cwd = typeof app.cwd === 'string' ? resolve(base, app.cwd) : base;
  const values: AnyRecord = { workers: cpuCount(app.instances, origin) };
  const appEnv = { ...(app.port === undefined ? {} : { PORT: app.port }), ...envOf(app, envName, origin) };
  const env = Object.entries(appEnv).map(([k, v]) => `${k}=${String(v)}`);
  const nodeArgs = app.node_args ?? app.interpreter_args;
  // workers are forked with the master's node: node_args reach them through NODE_OPTIONS
  if (nodeArgs) env.push(`NODE_OPTIONS=${Array.isArray(nodeArgs) ? nodeArgs.join(' ') : String(nodeArgs)}`);
  if (env.length) values.rawEnv = env;
  if (typeof app.cwd === 'string') values.chdir = cwd;
  if (!('name' in app)) values.name = appName(app);
  translateFields(app, { values, cwd, origin, warnings });
  const script = scriptOf(app, cwd, origin, warnings);
  return { app: resolve(cwd, script), values, defaults: bindOf(appEnv, origin), warnings };
}

/**
 * The module to serve. `script: 'npm'` (or yarn, pnpm) with `args: 'start'`
 * runs package.json's start script under PM2: when that is `node FILE`,
 * tsgund serves FILE and says to write it so; anything else cannot be served.
 */
function scriptOf(app: AnyRecord, cwd: string, origin: string, warnings: string[]): string {
  const script = String(app.script);
  if (!/^(npm|yarn|pnpm)$/.test(script)) return script;
  const args = Array.isArray(app.args) ? app.args.join(' ') : String(app.args ?? '');
  let start: unknown;
  try {
    start = (JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as AnyRecord).scripts;
    start = (start as AnyRecord | undefined)?.start;
  } catch (err) {
    throw new ConfigError(
      `${origin}: script '${script}' runs package.json's start script, but ${join(cwd, 'package.json')} cannot be read: ${oneLine(err)}`,
    );
  }
  const file = typeof start === 'string' ? /^node\s+(?:--?\S+\s+)*([^\s-]\S*)$/.exec(start.trim())?.[1] : undefined;
  if (!/^(run\s+)?start$/.test(args.trim()) || !file) {
    throw new ConfigError(
      `${origin}: script '${script}' with args '${args}': tsgund forks Node workers itself and cannot run a package script ` +
        `(start script: ${JSON.stringify(start ?? null)}); set script to the app's main file`,
    );
  }
  warnings.push(
    `${origin}: script '${script} ${args}' runs '${start}': tsgund serves ${file} directly; write script: '${file}'`,
  );
  return file;
}

/** The export of an ecosystem file, loaded afresh (a HUP re-reads it), checked like a config file first. */
export async function loadEcosystem(path: string): Promise<unknown> {
  assertRootOnly(path, 'PM2 ecosystem file');
  try {
    const mod = await loadModuleFresh(path);
    return (mod as AnyRecord | null)?.default ?? mod;
  } catch (err) {
    if (err instanceof UntrustedFileError) throw err; // a module it imports
    throw new ConfigError(`cannot load PM2 ecosystem file ${path}: ${oneLine(err)}`);
  }
}

/** Does the `*.config.js` at `path` export `apps` (a PM2 file, not an app)? Loading it runs it, as serving it would. */
export async function exportsApps(path: string): Promise<boolean> {
  try {
    const config = await loadEcosystem(path);
    return Boolean(config && typeof config === 'object' && 'apps' in config);
  } catch (err) {
    if (err instanceof UntrustedFileError) throw err;
    return false; // loaded as the app, which says what is wrong with it
  }
}

export async function readEcosystem(
  file: string,
  cwd: string,
  envName: string | null = null,
  only: string | null = null,
): Promise<Ecosystem> {
  const path = resolve(cwd, file);
  return fromEcosystem(await loadEcosystem(path), path, envName, only);
}

/**
 * `tsgund start ecosystem.config.js`: the file's first app, as if given on the
 * command line (flags actually given win, and `-e K=V` adds to the app's env).
 * PM2's `--env production` selects `env_production`: tsgund's own `-e/--env`
 * takes KEY=VALUE, so a value without '=' can only be PM2's environment name.
 */
export async function withEcosystem(
  cli: CommandLine,
  file: string,
  cwd: string,
  only: string | null = null,
  warn = true,
): Promise<CommandLine> {
  const rawEnv = (cli.values.rawEnv as string[] | undefined) ?? [];
  const names = rawEnv.filter((v) => !v.includes('='));
  if (names.length > 1) {
    throw new ConfigError(`command line: --env names ${names.join(', ')}; PM2's --env selects one environment`);
  }
  const eco = await readEcosystem(file, cwd, names[0] ?? null, only);
  if (warn) for (const w of eco.warnings) process.stderr.write(`tsgund: warning: ${w}\n`);
  const fromFile = validateLayer(eco.values, file, false);
  const flags = { ...cli.values };
  delete flags.rawEnv;
  // a later pair wins: -e K=V overrides one variable of the app's env
  const pairs = [...((fromFile.rawEnv as string[] | undefined) ?? []), ...rawEnv.filter((v) => v.includes('='))];
  return {
    ...cli,
    app: eco.app,
    values: { ...fromFile, ...flags, ...(pairs.length ? { rawEnv: pairs } : {}) },
    defaults: validateLayer(eco.defaults, file, false),
    ecosystem: resolve(cwd, file),
    // a HUP reads the app's entry again: edits to env, instances … reach the new generation
    refresh: () => withEcosystem(cli, file, cwd, only, false),
  };
}
