import { resolve } from 'node:path';
import { ConfigError, oneLine } from '../errors.js';
import { loadConfigFile } from './load-file.js';
import { LOG_CONFIG_KEYS } from './log-transports.js';
import { HOOKS } from './hook-table.js';
import { SETTINGS } from './settings.js';
import type { Settings } from './types.js';
import { validateLayer, validateMerged } from './validate.js';

/** Settings given on a command line (or in TSGUND_CMD_ARGS), before defaults. */
export interface CommandLine {
  configPath: string | null;
  app: string | null;
  values: Record<string, unknown>;
  /** Settings that stand in for the defaults (a PM2 ecosystem file's PORT): the config file wins over them. */
  defaults?: Record<string, unknown>;
  /** The PM2 ecosystem file the app entry comes from (absolute): `status` shows it, `reload FILE` goes by it. */
  ecosystem?: string;
  /** Read again on every HUP (a PM2 ecosystem file's app entry), before the config file. */
  refresh?: () => Promise<CommandLine>;
}

export interface Resolved {
  settings: Settings;
  configPath: string | null;
  /** The config file's own exports, hooks included. */
  fileConfig: Record<string, unknown>;
}

/** The default of every setting not `given` (an environment-derived default may be invalid, but only if used). */
export function defaults(given: Record<string, unknown> = {}): Settings {
  const out: Record<string, unknown> = { app: null };
  for (const s of SETTINGS) if (!(s.key in given)) out[s.key] = s.default();
  return out as unknown as Settings;
}

/**
 * defaults < config file < TSGUND_CMD_ARGS < command line. Called at start and
 * again on every HUP, so an edited file is read from disk each time.
 */
export async function resolveSettings(cli: CommandLine, envArgs: CommandLine | null, cwd: string): Promise<Resolved> {
  const configPath = cli.configPath ?? envArgs?.configPath ?? null;
  const file = await loadConfigFile(configPath ? resolve(cwd, configPath) : null, cwd);
  const origin = file.filepath ?? 'config';
  const fromFile = fileLayer(file.config, origin);
  // hooks and transports stay in fileConfig: they are not settings
  for (const key of [...HOOKS, ...LOG_CONFIG_KEYS]) delete fromFile[key];
  const given = { ...cli.defaults, ...fromFile, ...envArgs?.values, ...cli.values };
  const merged: Record<string, unknown> = { ...defaults(given), ...cli.defaults, ...fromFile };
  for (const layer of [envArgs, cli]) {
    if (!layer) continue;
    Object.assign(merged, layer.values);
    if (layer.app) merged.app = layer.app;
  }
  // every layer was checked key by key against the table: the shape is now Settings
  const settings = merged as unknown as Settings;
  validateMerged(settings);
  return { settings, configPath: file.filepath, fileConfig: file.config };
}

/** The config file's settings, validated; anything it throws (a getter, say) is a one-line error naming the file. */
function fileLayer(config: Record<string, unknown>, origin: string): Record<string, unknown> {
  try {
    return validateLayer(config, origin, false);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${origin}: ${oneLine(err)}`);
  }
}

export function requireApp(settings: Settings): string {
  if (!settings.app) {
    throw new ConfigError(
      "no app given: pass APP (module[:export]) or set 'app' in the config file (tsgund --help shows the usage)",
    );
  }
  return settings.app;
}
