import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../errors.js';
import type { CommandLine } from '../config/resolve.js';
import { SETTINGS, defaultText, flagOf, type SettingSpec } from '../config/settings.js';
import { validateLayer } from '../config/validate.js';

/** Flags that are not settings: where to find them and what to do. */
export interface StartFlags {
  checkConfig?: boolean;
  printConfig?: boolean;
  config?: string;
  /** Load config, ecosystem and hook files as root whoever could have written them. */
  insecureConfigFiles?: boolean;
}

// Numbers are converted only when they look like numbers, so validation can
// quote what the user actually typed ("-w abc").
const toNumber = (v: string): number | string => (/^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v);
const append = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

// What help shows as a flag's value, by setting, then by kind.
const PLACEHOLDER: Record<string, string> = {
  bind: 'ADDRESS',
  statsBind: 'ADDRESS',
  workers: 'N',
  backlog: 'N',
  maxMemory: 'MIB',
  reloadExtraFiles: 'PATH',
  chdir: 'DIR',
  user: 'USER',
  group: 'GROUP',
  unixSocketGroup: 'GROUP',
  umask: 'MODE',
  rawEnv: 'KEY=VALUE',
  name: 'NAME',
  accessLogFormat: 'FORMAT',
  loglevel: 'LEVEL',
  logFormat: 'FORMAT',
  logSyslogTo: 'URL',
  logSyslogPrefix: 'NAME',
  logSyslogFacility: 'FACILITY',
  forwardedAllowIps: 'IPS',
  reloadSurge: 'N|N%',
  limitRequestLine: 'BYTES',
  limitRequestFieldSize: 'BYTES',
};
const BY_KIND: Record<SettingSpec['kind'], string> = {
  int: 'N',
  number: 'SECONDS',
  bool: '',
  string: 'FILE',
  list: 'VALUE',
  enum: 'VALUE',
  mode: 'MODE',
};

function optionOf(s: SettingSpec): Option {
  const long = `--${flagOf(s)}`;
  const names = s.short ? `-${s.short}, ${long}` : long;
  const value = s.kind === 'bool' ? '' : ` <${PLACEHOLDER[s.key] ?? BY_KIND[s.kind]}>`;
  const opt = new Option(names + value, `${s.help} (default: ${defaultText(s)})`);
  switch (s.kind) {
    case 'int':
    case 'number':
      opt.argParser(toNumber);
      break;
    case 'list':
      opt.argParser(append);
      break;
    case 'enum':
      opt.choices([...s.choices!, ...Object.keys(s.aliases ?? {})]);
      break;
  }
  return opt;
}

export function addSettingOptions(cmd: Command): Command {
  for (const s of SETTINGS) {
    const opt = optionOf(s);
    cmd.addOption(opt);
    if (s.kind === 'bool') cmd.addOption(new Option(`--no-${flagOf(s)}`).hideHelp());
  }
  cmd.option('-c, --config <FILE>', 'config file (default: searched for from the current directory)');
  cmd.option('--check-config', 'validate the settings and the app, then exit');
  cmd.option('--print-config', 'print the merged settings as JSON, then exit');
  return cmd;
}

/** The settings in parsed commander options, validated, keyed by setting name. */
export function settingValues(opts: Record<string, unknown>, origin: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const attr = flagOf(s).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (opts[attr] !== undefined) values[s.key] = opts[attr];
  }
  return validateLayer(values, origin, true);
}

/** Split a TSGUND_CMD_ARGS string the way a shell would split simple quoting. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:\\.|[^"\\])*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]?.replace(/\\(.)/g, '$1') ?? m[2] ?? m[3]!);
  return out;
}

/** Parse TSGUND_CMD_ARGS: the same flags as `tsgund start`, lower precedence than the real ones. */
export function parseEnvArgs(text: string | undefined): CommandLine | null {
  if (!text?.trim()) return null;
  const cmd = addSettingOptions(new Command('TSGUND_CMD_ARGS')).argument('[app]').exitOverride();
  cmd.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    cmd.parse(splitArgs(text), { from: 'user' });
  } catch (err) {
    const msg = err instanceof CommanderError ? err.message.replace(/^error: /, '') : String(err);
    throw new ConfigError(`TSGUND_CMD_ARGS: ${msg}`);
  }
  const opts = cmd.opts<Record<string, unknown> & StartFlags>();
  return {
    configPath: opts.config ?? null,
    app: (cmd.processedArgs[0] as string | undefined) ?? null,
    values: settingValues(opts, 'TSGUND_CMD_ARGS'),
  };
}
