// Start-up cost by construction: an ES import of some built-ins makes Node
// build their module facade, which reads every export and so loads what the
// lazy ones stand for (node:fs its streams and promises, node:util its text
// codecs, node:http undici). Measured on Node 24, each is 10 to 70 ms in
// every master, worker and command. lib/ takes them with
// process.getBuiltinModule() instead, and node:crypto (16 ms to load) only
// inside the function that needs it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { LIB, sources } from '../support/lib-sources.js';

const FACADE = /^import\s+(?!type\s)[^;]*?from\s+'node:(fs|util|crypto|http|https|tls)'/gm;
const TOP_LEVEL_CRYPTO = /^const [^;]*process\.getBuiltinModule\('node:crypto'\)/gm;

/** `file: the import` for each costly built-in taken at a module's top. */
export function costlyImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const found = [...text.matchAll(FACADE), ...text.matchAll(TOP_LEVEL_CRYPTO)];
  return found.map((m) => `${relative(LIB, file)}: ${m[0].replace(/\s+/g, ' ')}`);
}

test('lib/ takes node:fs, node:util, node:http, node:https and node:tls without their ES module facade, and node:crypto only where used', () => {
  assert.deepEqual(
    sources(LIB).flatMap((f) => costlyImports(f)),
    [],
  );
});

/** Modules a worker loads at boot: static imports from its entry, not dynamic import(). */
function bootClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'(\.{1,2}\/[^']+)\.js'/gm))
      visit(resolve(dirname(file), `${m[1]}.ts`));
  };
  visit(entry);
  return seen;
}

test("a worker's boot loads neither the hang helper's nor the runtime metrics' built-ins", () => {
  const late =
    /^import\s+(?!type\s)[^;]*?from\s+'node:(inspector|worker_threads|perf_hooks|v8)'|process\.getBuiltinModule\('node:(inspector|worker_threads|perf_hooks|v8)'\)/m;
  const boot = bootClosure(join(LIB, 'worker', 'main.ts'));
  assert.ok(boot.has(join(LIB, 'worker', 'runtime-stats.ts')), 'the closure reaches the runtime');
  const eager = [...boot].filter((f) => {
    const text = readFileSync(f, 'utf8');
    // a getBuiltinModule inside a method or constructor runs later; only a module's top level counts
    return late.test(
      text
        .split('\n')
        .filter((l) => !/^\s/.test(l))
        .join('\n'),
    );
  });
  assert.deepEqual(
    eager.map((f) => relative(LIB, f)),
    [],
  );
});

test('the check sees a facade import, a top-level node:crypto, and lets type imports and lazy loads be', () => {
  const planted = [
    "import { readFileSync } from 'node:fs';",
    "import {\n  inspect,\n} from 'node:util';",
    "const { randomBytes } = process.getBuiltinModule('node:crypto');",
    "import type { Stats } from 'node:fs';",
    "const fs = process.getBuiltinModule('node:fs');",
    "function f() {\n  return process.getBuiltinModule('node:crypto');\n}",
  ].join('\n');
  assert.equal(costlyImports(join(LIB, 'planted.ts'), planted).length, 3);
});
