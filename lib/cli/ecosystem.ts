import { availableParallelism } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, oneLine } from '../errors.js';
import { UntrustedFileError, assertRootOnly } from '../config/file-trust.js';

/** A PM2 ecosystem file given where the app goes: ecosystem.config.js, ecosystem.json, … */
export const isEcosystemFile = (app: string): boolean =>
  /^ecosystem([.-][\w.-]*)?\.(js|cjs|mjs|json)$/.test(basename(app));

type AnyRecord = Record<string, unknown>;

export interface Ecosystem {
  app: string;
  /** Settings, keyed as in a config file. */
  values: AnyRecord;
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

/** Translate the first app of a PM2 ecosystem file into tsgund settings. */
export function fromEcosystem(config: unknown, file: string): Ecosystem {
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
  const env = Object.entries((first.env as AnyRecord | undefined) ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  const nodeArgs = first.node_args ?? first.interpreter_args;
  // workers are forked with the master's node: node_args reach them through NODE_OPTIONS
  if (nodeArgs) env.push(`NODE_OPTIONS=${Array.isArray(nodeArgs) ? nodeArgs.join(' ') : String(nodeArgs)}`);
  if (env.length) values.rawEnv = env;
  if (typeof first.cwd === 'string') values.chdir = cwd;
  for (const [key, value] of Object.entries(first)) {
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
      default:
        if (!HARMLESS.has(key)) warnings.push(`${origin}: PM2 field '${key}' is not supported by tsgund, ignored`);
    }
  }
  return { app: resolve(cwd, first.script), values, warnings };
}

export async function readEcosystem(file: string, cwd: string): Promise<Ecosystem> {
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
  return fromEcosystem(mod.default ?? mod, path);
}
