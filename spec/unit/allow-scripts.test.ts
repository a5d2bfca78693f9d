import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/harness.js';

const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;

describe('npm ci in the repository', () => {
  it("reviews every dependency's install script in package.json#allowScripts, so npm prints no warning", () => {
    const lock = read('package-lock.json').packages as Record<string, { hasInstallScript?: boolean }>;
    const allowed = (read('package.json').allowScripts ?? {}) as Record<string, boolean>;
    const withScripts = Object.entries(lock)
      .filter(([path, pkg]) => path.startsWith('node_modules/') && pkg.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    assert.deepEqual(
      withScripts.filter((name) => !(name in allowed)),
      [],
      'add them to allowScripts (true to build, false to skip)',
    );
  });
});
