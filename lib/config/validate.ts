import { ConfigError } from '../errors.js';
import type { Settings } from './types.js';
import { HOOKS } from './hook-table.js';
import { SETTINGS, flagOf, type SettingSpec } from './settings.js';
import { parseBind } from '../listeners/address.js';
import { validateAccessLogFormat } from '../log/access-log.js';
import { parseSyslogTo } from '../log/syslog-target.js';
import { LOG_CONFIG_KEYS, isLogConfigKey, logConfigProblem } from './log-transports.js';
import { allowListProblem } from '../allow-list.js';
import { SURGE_EXPECTED, parseSurge } from './surge.js';
import { checkWorkerModules, workerExecArgv } from './worker-node-options.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { existsSync, statSync } = process.getBuiltinModule('node:fs');
const { inspect } = process.getBuiltinModule('node:util');

const bySetting = new Map<string, (typeof SETTINGS)[number]>(SETTINGS.map((s) => [s.key, s]));

const range = (s: SettingSpec): string => (s.max === undefined ? `>= ${s.min ?? 0}` : `from ${s.min ?? 0} to ${s.max}`);

function expectation(s: SettingSpec): string {
  const orNull = s.nullable ? ' or null' : '';
  switch (s.kind) {
    case 'int':
      return `an integer ${range(s)}`;
    case 'number':
      return `a number ${range(s)}`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${s.choices!.join(', ')}`;
    case 'list':
      return 'a string or a list of strings';
    case 'mode':
      return `an octal mode such as 022 or 0o027${orNull}`;
    case 'string':
      return `a non-empty string${orNull}`;
  }
}

const inRange = (s: SettingSpec, v: number): boolean => v >= (s.min ?? 0) && v <= (s.max ?? Infinity);

// Hand-written rather than zod: these few shapes do not need a schema library,
// and zod alone added about 7 MiB to the master's resident memory.
function accepts(s: SettingSpec, v: unknown): boolean {
  if (v === null) return Boolean(s.nullable);
  switch (s.kind) {
    case 'int':
      return Number.isInteger(v) && inRange(s, v as number);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) && inRange(s, v);
    case 'bool':
      return typeof v === 'boolean';
    case 'enum':
      return typeof v === 'string' && s.choices!.includes(v);
    case 'list':
      return Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== '');
    case 'mode':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0o777;
    case 'string':
      return typeof v === 'string' && v !== '';
  }
}

/** Shapes that are friendlier in a config file, turned into the canonical type. */
function normalize(s: SettingSpec, value: unknown): unknown {
  if (s.aliases && typeof value === 'string' && Object.hasOwn(s.aliases, value)) return s.aliases[value];
  // a count of workers may be a number in a config file
  if (s.key === 'reloadSurge' && typeof value === 'number') return String(value);
  // a comma list, as in gunicorn, in a string or in each flag given
  if (s.key === 'forwardedAllowIps' && (typeof value === 'string' || Array.isArray(value))) {
    return [value]
      .flat()
      .flatMap((v: unknown) => (typeof v === 'string' ? v.split(',').map((p) => p.trim()) : [v]))
      .filter((v) => v !== '');
  }
  if (s.kind === 'list' && typeof value === 'string') return [value];
  if (s.kind === 'mode' && typeof value === 'string' && /^(0o?)?[0-7]{1,4}$/.test(value)) {
    return parseInt(value.replace(/^0o/, ''), 8);
  }
  return value;
}

const show = (v: unknown): string => {
  if (typeof v === 'function') return 'a function';
  try {
    const text = JSON.stringify(v);
    return text === undefined ? String(v) : text;
  } catch {
    // a circular structure, a BigInt: JSON cannot show it, inspect can, on one line
    return inspect(v, { depth: 2, breakLength: Infinity });
  }
};

function closest(name: string): string | null {
  const candidates = [...bySetting.keys(), ...HOOKS, ...LOG_CONFIG_KEYS, 'app'];
  let best: string | null = null;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestScore) [best, bestScore] = [c, d];
  }
  return bestScore <= 3 ? best : null;
}

/** Levenshtein distance: how many single-character edits turn `a` into `b`. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Validate one layer of settings (a config file, TSGUND_CMD_ARGS or the CLI).
 * `origin` names the layer in messages; `asFlag` names settings by their flag.
 */
export function validateLayer(raw: Record<string, unknown>, origin: string, asFlag: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (isLogConfigKey(key)) {
      const problem = logConfigProblem(key, value);
      if (problem) throw new ConfigError(`${origin}: ${problem}`);
      out[key] = value;
      continue;
    }
    if ((HOOKS as readonly string[]).includes(key)) {
      if (typeof value !== 'function') {
        throw new ConfigError(`${origin}: hook '${key}' must be a function, got ${show(value)}`);
      }
      out[key] = value;
      continue;
    }
    if (key === 'app') {
      if (typeof value !== 'string' || value === '') {
        throw new ConfigError(
          `${origin}: setting 'app' is ${show(value)}, expected a module path such as app.js or app.js:handler`,
        );
      }
      out.app = value;
      continue;
    }
    const spec = bySetting.get(key);
    if (!spec) {
      const hint = closest(key);
      throw new ConfigError(`${origin}: unknown setting '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    const normalized = normalize(spec, value);
    if (!accepts(spec, normalized)) {
      const name = asFlag ? `--${flagOf(spec)}` : `setting '${key}'`;
      throw new ConfigError(`${origin}: ${name} is ${show(value)}, expected ${expectation(spec)}`);
    }
    out[key] = normalized;
  }
  return out;
}

/** Sticky placement needs TCP binds (by X-Forwarded-For: accepted in the master, on one socket per bind). */
function checkStickyBinds(settings: Settings): void {
  if (settings.sticky === 'none') return;
  if (!settings.bind.length) {
    throw new ConfigError(
      `setting 'sticky' is ${show(settings.sticky)}, but nothing is bound (bind is empty): a background app has no connections to place; turn sticky off or give a bind`,
    );
  }
  if (settings.sticky !== 'forwarded') return;
  if (settings.reusePort) {
    throw new ConfigError(
      `setting 'sticky' is ${show(settings.sticky)} and 'reusePort' is true: placement by X-Forwarded-For accepts in the master on one socket per bind; turn one of them off`,
    );
  }
  const unix = settings.bind.find((b) => parseBind(b).kind === 'unix');
  if (unix) {
    throw new ConfigError(
      `setting 'sticky' is ${show(settings.sticky)}, but bind ${show(unix)} is a unix socket, whose clients have no address to place them by; use TCP binds`,
    );
  }
}

/** Checks that need the merged settings or look inside a value. */
export function validateMerged(settings: Settings): void {
  for (const address of settings.bind) parseBind(address);
  if (settings.statsBind) parseBind(settings.statsBind, 'stats-bind');
  for (const pair of settings.rawEnv) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(pair)) {
      throw new ConfigError(`setting 'rawEnv' has ${show(pair)}, expected KEY=VALUE`);
    }
  }
  if (parseSurge(settings.reloadSurge) === null) {
    throw new ConfigError(`setting 'reloadSurge' is ${show(settings.reloadSurge)}, expected ${SURGE_EXPECTED}`);
  }
  const proxies = allowListProblem(settings.forwardedAllowIps);
  if (proxies) throw new ConfigError(`setting 'forwardedAllowIps' ${proxies}`);
  const syslogTo = parseSyslogTo(settings.logSyslogTo);
  if (typeof syslogTo === 'string') {
    throw new ConfigError(`setting 'logSyslogTo' is ${show(settings.logSyslogTo)}: ${syslogTo}`);
  }
  const formatProblem = validateAccessLogFormat(settings.accessLogFormat);
  if (formatProblem) throw new ConfigError(`setting 'accessLogFormat': ${formatProblem}`);
  if (settings.chdir) {
    const dir = settings.chdir;
    if (!existsSync(dir)) throw new ConfigError(`setting 'chdir': ${show(dir)} does not exist`);
    if (!statSync(dir).isDirectory()) throw new ConfigError(`setting 'chdir': ${show(dir)} is not a directory`);
  }
  checkWorkerModules(workerExecArgv(settings.workerNodeOptions), settings.chdir ?? process.cwd());
  checkStickyBinds(settings);
  if (settings.http2 && !settings.certfile && settings.sticky === 'forwarded') {
    throw new ConfigError(
      `setting 'sticky' is ${show(settings.sticky)} with 'http2' on and no certfile: placement by X-Forwarded-For reads it from the first bytes, which cleartext HTTP/2 sends HPACK-compressed; use sticky 'ip', turn one of them off, or serve TLS`,
    );
  }
  for (const key of ['certfile', 'keyfile'] as const) {
    const file = settings[key];
    if (file && !existsSync(file)) throw new ConfigError(`setting '${key}': ${show(file)} does not exist`);
  }
  if (Boolean(settings.certfile) !== Boolean(settings.keyfile)) {
    throw new ConfigError(
      `settings 'certfile' and 'keyfile' go together: got certfile=${show(settings.certfile)}, keyfile=${show(settings.keyfile)}`,
    );
  }
}
