// The check that lets a start skip cosmiconfig must never hide a config that cosmiconfig would find.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigFile, mayHoldConfig } from '../../lib/config/load-file.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory holding `files` (name → content). */
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgund-search-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const empty = () => dirWith({});

describe('config search', () => {
  it('has nothing to find in an empty directory or beside a package.json without a tsgund key', () => {
    assert.equal(mayHoldConfig(empty(), empty()), false);
    const app = dirWith({ 'package.json': '{ "name": "app", "type": "module" }' });
    assert.equal(mayHoldConfig(app, app), false);
  });

  it('sees every place cosmiconfig searches, and loads what is there', async () => {
    const places: Record<string, string> = {
      'package.json': '{ "name": "app", "tsgund": { "workers": 3 } }',
      '.tsgundrc': 'workers: 3\n',
      '.tsgundrc.json': '{ "workers": 3 }',
      '.tsgundrc.yaml': 'workers: 3\n',
      '.tsgundrc.yml': 'workers: 3\n',
      '.tsgundrc.cjs': 'module.exports = { workers: 3 };\n',
      '.tsgundrc.mjs': 'export default { workers: 3 };\n',
      'tsgund.config.cjs': 'module.exports = { workers: 3 };\n',
      'tsgund.config.mjs': 'export default { workers: 3 };\n',
      'tsgund.config.ts': 'export default { workers: 3 };\n',
      'tsgund.config.json': '{ "workers": 3 }',
      'tsgund.config.yaml': 'workers: 3\n',
    };
    for (const [name, content] of Object.entries(places)) {
      const dir = dirWith({ [name]: content });
      assert.equal(mayHoldConfig(dir, empty()), true, name);
      const loaded = await loadConfigFile(null, dir);
      assert.deepEqual(
        { file: loaded.filepath, config: loaded.config },
        { file: join(dir, name), config: { workers: 3 } },
      );
    }
  });

  it('leaves a package.json that does not parse, or a cosmiconfig meta config, to cosmiconfig', () => {
    assert.equal(mayHoldConfig(dirWith({ 'package.json': '{ "name": ' }), empty()), true);
    const meta = dirWith({ 'package.json': '{ "cosmiconfig": { "searchPlaces": ["custom.json"] } }' });
    assert.equal(mayHoldConfig(empty(), meta), true);
    assert.equal(mayHoldConfig(empty(), dirWith({ '.config/config.json': '{}' })), true);
  });

  it('with nothing to find, answers no config without an error', async () => {
    assert.deepEqual(await loadConfigFile(null, empty()), { filepath: null, config: {} });
  });
});
