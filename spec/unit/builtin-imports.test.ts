// Start-up cost by construction: an ES import of some built-ins makes Node
// build their module facade, which reads every export and so loads what the
// lazy ones stand for (node:fs its streams and promises, node:util its text
// codecs, node:http undici). Measured on Node 24, each is 10 to 70 ms in
// every master, worker and command. lib/ takes them with
// process.getBuiltinModule() instead, and node:crypto (16 ms to load) only
// inside the function that needs it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const LIB = join(ROOT, 'lib');
const FACADE = /^import\s+(?!type\s)[^;]*?from\s+'node:(fs|util|crypto|http|https|tls)'/gm;
const TOP_LEVEL_CRYPTO = /^const [^;]*process\.getBuiltinModule\('node:crypto'\)/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.ts$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

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
