import { availableParallelism } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CommandLine } from '../config/resolve.js';
import { validateLayer } from '../config/validate.js';
import { ConfigError, oneLine } from '../errors.js';
import { UntrustedFileError, assertRootOnly } from '../trust/file-trust.js';

/** A PM2 ecosystem file given where the app goes: ecosystem.config.js, ecosystem.json, … */
export const isEcosystemFile = (app: string): boolean =>
  /^ecosystem([.-][\w.-]*)?\.(js|cjs|mjs|json)$/.test(basename(app));

type AnyRecord = Record<string, unknown>;

export interface Ecosystem {
  app: string;
  /** Settings, keyed as in a config file. */
  values: AnyRecord;
  /** Settings that stand in for defaults (the bind that the app's PORT and HOST imply): a config file wins. */
  defaults: AnyRecord;
  warnings: string[];
}

// Fields with no tsgund meaning that change nothing when dropped.
const HARMLESS = new Set(['exec_mode', 'autorestart', 'merge_logs', 'combine_logs', 'time']);

const MEMORY_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024 };

function cpuCount(instances: unknown, origin: string): number {
  if (instances === undefined) return 1;
  if (instances === 'max' || instances === 0 || instances === '0') return availableParallelism();
  const n = Number(instances);
  // PM2: -1 is all CPUs but one
  if (n < 0 && Number.isInteger(n)) return Math.max(1, availableParallelism() + n);
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
  if (env.PORT === undefined) return {};
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
      case 'error_file':
        values.errorlog = resolve(cwd, String(value));
        break;
      case 'wait_ready':
        values.waitReady = Boolean(value);
        break;
      default:
        // env_<name> is read only with --env <name>, as PM2 does
        if (!HARMLESS.has(key) && !key.startsWith('env_'))
          warnings.push(`${origin}: PM2 field '${key}' is not supported by tsgund, ignored`);
    }
  }
}

/** Translate the first app of a PM2 ecosystem file into tsgund settings (`envName`: PM2's `--env`). */
export function fromEcosystem(config: unknown, file: string, envName: string | null = null): Ecosystem {
  const origin = basename(file);
  const apps = (config as AnyRecord | null)?.apps ?? config;
  const list = Array.isArray(apps) ? apps : [apps];
  const first = list[0] as AnyRecord | undefined;
  if (!first || typeof first !== 'object' || typeof first.script !== 'string') {
    throw new ConfigError(`${origin}: expected apps[0].script, the app's main module`);
  }
  const warnings: string[] = [];
  if (list.length > 1) warnings.push(`${origin}: only the first app ('${first.name ?? first.script}') is started`);
  const base = dirname(file);
  const cwd = typeof first.cwd === 'string' ? resolve(base, first.cwd) : base;
  const values: AnyRecord = { workers: cpuCount(first.instances, origin) };
  const appEnv = envOf(first, envName, origin);
  const env = Object.entries(appEnv).map(([k, v]) => `${k}=${String(v)}`);
  const nodeArgs = first.node_args ?? first.interpreter_args;
  // workers are forked with the master's node: node_args reach them through NODE_OPTIONS
  if (nodeArgs) env.push(`NODE_OPTIONS=${Array.isArray(nodeArgs) ? nodeArgs.join(' ') : String(nodeArgs)}`);
  if (env.length) values.rawEnv = env;
  if (typeof first.cwd === 'string') values.chdir = cwd;
  translateFields(first, { values, cwd, origin, warnings });
  return { app: resolve(cwd, first.script), values, defaults: bindOf(appEnv, origin), warnings };
}

export async function readEcosystem(file: string, cwd: string, envName: string | null = null): Promise<Ecosystem> {
  const path = resolve(cwd, file);
  assertRootOnly(path, 'PM2 ecosystem file');
  (await import('../config/module-hooks.js')).checkImportsOf(path);
  let mod: AnyRecord;
  try {
    mod = (await import(
      pathToFileURL(path).href,
      path.endsWith('.json') ? { with: { type: 'json' } } : {}
    )) as AnyRecord;
  } catch (err) {
    if (err instanceof UntrustedFileError) throw err; // a module it imports
    throw new ConfigError(`cannot load PM2 ecosystem file ${path}: ${oneLine(err)}`);
  }
  return fromEcosystem(mod.default ?? mod, path, envName);
}

/**
 * `tsgund start ecosystem.config.js`: the file's first app, as if given on the
 * command line (flags actually given win, and `-e K=V` adds to the app's env).
 * PM2's `--env production` selects `env_production`: tsgund's own `-e/--env`
 * takes KEY=VALUE, so a value without '=' can only be PM2's environment name.
 */
export async function withEcosystem(cli: CommandLine, file: string, cwd: string): Promise<CommandLine> {
  const rawEnv = (cli.values.rawEnv as string[] | undefined) ?? [];
  const names = rawEnv.filter((v) => !v.includes('='));
  if (names.length > 1) {
    throw new ConfigError(`command line: --env names ${names.join(', ')}; PM2's --env selects one environment`);
  }
  const eco = await readEcosystem(file, cwd, names[0] ?? null);
  for (const w of eco.warnings) process.stderr.write(`tsgund: warning: ${w}\n`);
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
  };
}
