// The settings reference, docs/settings.md, rendered from the one settings
// table: scripts/docs/settings.mjs writes it (`npm run docs`), and a unit test
// fails when the file and the table disagree, so the page cannot drift.

import { SETTINGS, defaultText, flagOf, type SettingSpec } from './settings.js';

/** The page's path in the repository, for the script and the drift test. */
export const SETTINGS_REFERENCE_PATH = 'docs/settings.md';

const HEADER = `<!-- Generated from lib/config/settings.ts by \`npm run docs\`: edit the table there, not this file. -->

# Settings reference

Every setting, as a config-file key (camelCase) and a command-line flag of
\`tsgund start\` and \`tsgund check-config\`. Precedence, lowest first: the
default, the config file, \`TSGUND_CMD_ARGS\` (the same flags, shell-quoted),
the command line. A HUP reads the config file again. How config files are
found and read, the hooks and the error log transports (JS and TS config
files only) are in [Configuration](configuration.md).`;

/** Markdown text for a table cell or a line: no HTML tags, no broken table. */
const markdown = (text: string): string => text.replace(/[<>*|]/g, (c) => `\\${c}`);
const code = (text: string): string => `\`${text.replace(/\|/g, '\\|')}\``;
const sentence = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
// a value as code; a default that depends on the environment is described in words
const defaultOf = (s: SettingSpec): string => (s.defaultText ? markdown(s.defaultText) : code(defaultText(s)));

function flagsOf(s: SettingSpec): string {
  const long = code(`--${flagOf(s)}`);
  return s.short ? `${code(`-${s.short}`)}, ${long}` : long;
}

function rangeOf(s: SettingSpec): string {
  if (s.min === undefined && s.max === undefined) return '';
  return s.max === undefined ? ` ≥ ${s.min}` : ` from ${s.min ?? 0} to ${s.max}`;
}

/** What values the setting takes, as its validation accepts them. */
export function typeText(s: SettingSpec): string {
  const orNone = s.nullable ? ', or null for none' : '';
  switch (s.kind) {
    case 'int':
      return `integer${rangeOf(s)}`;
    case 'number':
      return `number${rangeOf(s)}`;
    case 'bool':
      return `boolean (\`--no-${flagOf(s)}\` turns it off on the command line)`;
    case 'string':
      return `string${orNone}`;
    case 'list':
      return 'list of strings (a string is a list of one; the flag may be repeated)';
    case 'mode':
      return `octal mode such as \`022\`${orNone}`;
    case 'enum': {
      const aliases = Object.entries(s.aliases ?? {}).map(([alias, to]) => `${code(alias)} for ${code(to)}`);
      const choices = s.choices!.map(code).join(', ');
      return `one of ${choices}${aliases.length ? ` (also ${aliases.join(', ')})` : ''}`;
    }
  }
}

function summary(settings: readonly SettingSpec[]): string[] {
  return [
    '| setting | flag | default | |',
    '|---|---|---|---|',
    ...settings.map(
      (s) => `| [${code(s.key)}](#${s.key.toLowerCase()}) | ${flagsOf(s)} | ${defaultOf(s)} | ${markdown(s.help)} |`,
    ),
  ];
}

function entry(s: SettingSpec): string[] {
  return [
    `### ${s.key}`,
    '',
    `${markdown(sentence(s.help))}${s.doc ? ` ${s.doc}` : ''}`,
    '',
    `- Flag: ${flagsOf(s)}`,
    ...(s.env ? [`- Environment: ${code(s.env)} (read for the default)`] : []),
    `- Type: ${typeText(s)}`,
    `- Default: ${defaultOf(s)}`,
    '',
  ];
}

/** docs/settings.md for `settings` (by default the table tsgund runs with). */
export function settingsReference(settings: readonly SettingSpec[] = SETTINGS): string {
  const lines = [HEADER, '', '## Summary', '', ...summary(settings), '', '## Settings', ''];
  for (const s of settings) lines.push(...entry(s));
  return `${lines.join('\n').trimEnd()}\n`;
}
