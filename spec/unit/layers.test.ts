// The layer rule: imports only run down. Each folder of lib/ (and each leaf
// module at its top) has a rank; a module may import only from its own rank
// or below, and in lib/master the rooms may not import the arbiter above them.
// Type-only imports count too: a type is a dependency a reader must follow.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { LIB, ROOT, sources } from '../support/lib-sources.js';

/** Lowest first. Documented in docs/architecture.md. */
export const LAYERS: string[][] = [
  [
    'errors',
    'version',
    'clock',
    'native-addon',
    'node-http',
    'type-stripping',
    'early-signals',
    'allow-list',
    'types',
    'internals',
    'worker-text',
    'grid',
    'random-hex',
  ],
  ['trust'],
  ['listeners', 'log'],
  ['config'],
  ['protocol'],
  ['stats'],
  ['control', 'daemon'],
  ['worker', 'master'],
  ['cli'],
  ['index'],
];

const rankOf = (file: string): number => {
  const top = relative(LIB, file)
    .split('/')[0]!
    .replace(/\.(ts|cts|d\.ts)$/, '');
  const rank = LAYERS.findIndex((layer) => layer.includes(top));
  assert.notEqual(rank, -1, `${relative(ROOT, file)}: its folder '${top}' has no layer in LAYERS`);
  return rank;
};

/**
 * Relative imports of a module, static and dynamic. A `new URL(…, import.meta.url)`
 * names a file to run (the worker's and the daemon's entry points), not a module to
 * import, so it does not count.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)];
  return specs.map((m) => resolve(dirname(file), m[1]!).replace(/\.c?js$/, (ext) => (ext === '.cjs' ? '.cts' : '.ts')));
}

test('imports only run down the layers', () => {
  const upward: string[] = [];
  for (const file of sources(LIB)) {
    for (const target of importsOf(file)) {
      if (!target.startsWith(LIB + '/')) continue; // native/, package.json: outside the layers
      if (rankOf(target) > rankOf(file)) upward.push(`${relative(LIB, file)} -> ${relative(LIB, target)}`);
    }
  }
  assert.deepEqual(upward, [], 'imports that run up the layers');
});

test('the rooms of lib/master do not import the arbiter above them', () => {
  const top = new Set(['arbiter.ts', 'snapshot.ts'].map((f) => join(LIB, 'master', f)));
  const upward: string[] = [];
  for (const file of sources(join(LIB, 'master'))) {
    if (dirname(file) === join(LIB, 'master')) continue;
    for (const target of importsOf(file))
      if (top.has(target)) upward.push(`${relative(LIB, file)} -> ${relative(LIB, target)}`);
  }
  assert.deepEqual(upward, [], 'room modules that import the master module above them');
});

test('outside lib/master/logs, the master reaches its logs only through MasterLogs', () => {
  const logs = join(LIB, 'master', 'logs');
  const door = join(logs, 'master-logs.ts');
  const around: string[] = [];
  for (const file of sources(LIB)) {
    if (dirname(file) === logs) continue;
    for (const target of importsOf(file))
      if (dirname(target) === logs && target !== door)
        around.push(`${relative(LIB, file)} -> ${relative(LIB, target)}`);
  }
  assert.deepEqual(around, [], 'modules that go around MasterLogs to its parts');
});

test('the parser sees static, type-only and dynamic imports, and not spawn targets', () => {
  // a guard against a check that cannot fail: run the parser over a planted module
  const dir = mkdtempSync(join(tmpdir(), 'tsgund-layers-'));
  const file = join(dir, 'planted.ts');
  const lines = ["import { a } from './a.js';", "import type { B } from '../b.js';", "await import('./c.js');"];
  writeFileSync(file, [...lines, "new URL('./d.js', import.meta.url);"].join('\n'));
  try {
    assert.deepEqual(importsOf(file), [join(dir, 'a.ts'), join(dirname(dir), 'b.ts'), join(dir, 'c.ts')]);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
