import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SETTINGS_REFERENCE_PATH, settingsReference, typeText } from '../../lib/config/settings-reference.js';
import { SETTINGS, flagOf, type SettingSpec } from '../../lib/config/settings.js';
import { ROOT } from '../support/harness.js';

test('docs/settings.md is what the settings table renders', () => {
  const page = readFileSync(join(ROOT, SETTINGS_REFERENCE_PATH), 'utf8');
  // a plain equality check would print two 500-line strings; name the first line that differs
  const want = settingsReference().split('\n');
  const have = page.split('\n');
  const line = want.findIndex((w, i) => w !== have[i]);
  assert.ok(
    line === -1 && want.length === have.length,
    `${SETTINGS_REFERENCE_PATH} is out of date with lib/config/settings.ts: run \`npm run docs\` and commit it` +
      (line === -1
        ? ''
        : ` (line ${line + 1}: expected ${JSON.stringify(want[line])}, found ${JSON.stringify(have[line])})`),
  );
});

test('every setting has its section, flag, type and default in the reference', () => {
  const page = settingsReference();
  for (const s of SETTINGS) {
    const section = page.split(`\n### ${s.key}\n`)[1]?.split('\n### ')[0];
    assert.ok(section, `no section for ${s.key}`);
    assert.match(section, new RegExp(`- Flag: .*\`--${flagOf(s)}\``), s.key);
    assert.ok(section.includes(`- Type: ${typeText(s)}`), s.key);
    assert.match(section, /- Default: \S/, s.key);
    assert.ok(page.includes(`| [\`${s.key}\`](#${s.key.toLowerCase()}) |`), `${s.key} in the summary`);
  }
});

test('a row renders its short flag, environment, range, choices, aliases and longer doc', () => {
  const spec: SettingSpec = {
    key: 'logLevelish',
    kind: 'enum',
    short: 'L',
    choices: ['low', 'high'],
    aliases: { hi: 'high' },
    env: 'LEVELISH',
    help: 'how loud, <quietly> | *loudly*',
    doc: 'See [Logging](logging.md).',
    default: () => 'low',
  };
  const page = settingsReference([spec, { key: 'count', kind: 'int', min: 1, max: 9, help: 'n', default: () => 3 }]);
  assert.ok(page.includes('- Flag: `-L`, `--log-levelish`'));
  assert.ok(page.includes('- Environment: `LEVELISH`'));
  assert.ok(page.includes('- Type: one of `low`, `high` (also `hi` for `high`)'));
  assert.ok(page.includes('How loud, \\<quietly\\> \\| \\*loudly\\*. See [Logging](logging.md).'));
  assert.ok(page.includes('- Type: integer from 1 to 9'));
  assert.ok(page.includes('- Default: `3`'));
});
