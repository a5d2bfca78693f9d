import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SETTINGS } from '../../lib/config/settings.js';
import { HELLO, ROOT, cleanup, tempDir } from '../support/harness.js';
import { cli, exec } from '../support/exec.js';

const TS_EXAMPLE = join(ROOT, 'config/tsgund.config.ts');
const JSON_EXAMPLE = join(ROOT, 'config/example.json');
const dirs: string[] = [];
after(() => cleanup(dirs));

/** `start --print-config` run from an empty directory, so that no other config file is found. */
async function printConfig(args: string[]): Promise<Record<string, unknown>> {
  const cwd = tempDir();
  dirs.push(cwd);
  const done = await cli(['start', ...args, '--print-config'], { cwd, env: { WEB_CONCURRENCY: '' } });
  assert.equal(done.code, 0, done.stderr);
  return JSON.parse(done.stdout) as Record<string, unknown>;
}

describe('config examples', () => {
  it('config/tsgund.config.ts sets every setting to its default', async () => {
    const text = readFileSync(TS_EXAMPLE, 'utf8');
    for (const s of SETTINGS) assert.match(text, new RegExp(`^  ${s.key}: `, 'm'), `${s.key} is in the example`);
    const { app, configFile, ...example } = await printConfig(['-c', TS_EXAMPLE]);
    const { app: noApp, configFile: noFile, ...defaults } = await printConfig([]);
    assert.equal(app, 'app.js');
    assert.equal(configFile, TS_EXAMPLE);
    assert.deepEqual([noApp, noFile], [null, null]);
    assert.deepEqual(example, defaults);
  });

  it('config/tsgund.config.ts type-checks against the package types', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const done = await exec(process.execPath, [
      tsc,
      '--noEmit',
      '--strict',
      // the config is checked against the package's declarations; checking Node's own is not its job
      '--skipLibCheck',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      TS_EXAMPLE,
    ]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
  });

  it('config/example.json is valid and loads as written', async () => {
    const written = JSON.parse(readFileSync(JSON_EXAMPLE, 'utf8')) as Record<string, unknown>;
    const loaded = await printConfig(['-c', JSON_EXAMPLE]);
    for (const [key, value] of Object.entries(written)) assert.deepEqual(loaded[key], value, key);
    const checked = await cli(['check-config', '-c', JSON_EXAMPLE, HELLO]);
    assert.equal(checked.code, 0, checked.stderr);
  });
});
