// The build's entry bundles (scripts/build/bundle.mjs) against the modules
// they replace: a module that both the worker's entry and its preload import
// must be one chunk, or the process would hold two copies of its state (the
// early signal handlers would buffer into one and be read from the other);
// and each module's import.meta.url must still name its own file.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = resolve(fileURLToPath(new URL('../..', import.meta.url)), 'lib');
const read = (file: string): string => readFileSync(join(DIST, file), 'utf8');
const outputs = (): string[] => [
  ...['cli/main.js', 'worker/main.js', 'worker/preload.js', 'worker/hang-helper.js', 'daemon/intermediate.js'],
  ...readdirSync(join(DIST, 'bundle')).map((f) => `bundle/${f}`),
];

test('the entries are bundles: they import only chunks, never a module of dist/lib by itself', () => {
  for (const entry of outputs()) {
    const relative = [...read(entry).matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(
      relative.every((spec) => /^(\.\.\/bundle\/|\.\/)[\w-]+\.js$/.test(spec)),
      `${entry} imports ${relative.join(', ')}`,
    );
  }
});

test('the worker and its preload share one copy of the early signal handlers', () => {
  const holders = outputs().filter((f) => read(f).includes('function handleSignal('));
  assert.equal(holders.length, 1, `handleSignal is defined in ${holders.join(', ')}`);
  assert.match(holders[0]!, /^bundle\//);
});

test("each module's import.meta.url names its own file, not the bundle's", () => {
  const urls = outputs().flatMap((f) => [...read(f).matchAll(/new URL\("([^"]+)", import\.meta\.url\)\.href/g)]);
  assert.ok(urls.length > 5, 'the rewritten URLs are found');
  for (const [, own] of urls) assert.match(own!, /^\.\.\/[\w/-]+\.js$/, `${own} is a file of dist/lib, one folder up`);
  assert.ok(
    urls.some(([, own]) => own === '../native-addon.js'),
    'the addon finds native/ from its own file',
  );
});
