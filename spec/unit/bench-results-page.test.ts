import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, cleanup, tempDir } from '../support/harness.js';

/** scripts/bench/results-page.mjs, which the benchmark scripts import. */
interface ResultsPage {
  DEFAULT_PAGE: string;
  machineLine(date?: Date): string;
  replaceSection(page: string, name: string, body: string): string;
  writeSection(name: string, table: string, opts?: { file?: string; date?: Date; machine?: string }): string | null;
}
// a plain script, not part of the build: imported from the source tree at run time
const load = async (): Promise<ResultsPage> =>
  (await import(pathToFileURL(join(ROOT, 'scripts/bench/results-page.mjs')).href)) as ResultsPage;

const PAGE = [
  '# Benchmarks',
  '',
  'hand-written',
  '',
  '<!-- bench:reload -->',
  'old',
  '<!-- /bench:reload -->',
  'after',
  '',
];

test('a section is replaced between its markers; the prose around it stays', async () => {
  const { replaceSection } = await load();
  const next = replaceSection(PAGE.join('\n'), 'reload', '| a |\n|---|\n| 1 |\n');
  assert.equal(
    next,
    [
      '# Benchmarks',
      '',
      'hand-written',
      '',
      '<!-- bench:reload -->',
      '| a |',
      '|---|',
      '| 1 |',
      '<!-- /bench:reload -->',
      'after',
      '',
    ].join('\n'),
  );
  assert.equal(replaceSection(next, 'reload', '| a |\n|---|\n| 1 |'), next, 'writing the same twice changes nothing');
});

test('a missing section is appended; an unclosed one or a bad name is refused', async () => {
  const { replaceSection } = await load();
  assert.equal(
    replaceSection('# Benchmarks\n', 'scale', 'x'),
    '# Benchmarks\n\n<!-- bench:scale -->\nx\n<!-- /bench:scale -->\n',
  );
  assert.throws(() => replaceSection('<!-- bench:scale -->\nx\n', 'scale', 'y'), /has no <!-- \/bench:scale -->/);
  assert.throws(() => replaceSection('', 'Scale Run', 'y'), /lowercase letters/);
});

test('writeSection puts the machine line over the table, in the named file only', async (t) => {
  const { writeSection, machineLine, DEFAULT_PAGE } = await load();
  const dir = tempDir();
  t.after(() => cleanup([dir]));
  const file = join(dir, 'benchmarks.md');
  writeFileSync(file, PAGE.join('\n'));
  const before = readFileSync(DEFAULT_PAGE, 'utf8');
  assert.equal(writeSection('reload', '| b |', { file, machine: 'Measured today.' }), file);
  assert.match(
    readFileSync(file, 'utf8'),
    /<!-- bench:reload -->\nMeasured today\.\n\n\| b \|\n<!-- \/bench:reload -->\nafter/,
  );
  assert.equal(readFileSync(DEFAULT_PAGE, 'utf8'), before, 'docs/benchmarks.md untouched');
  assert.equal(writeSection('reload', '| c |', { file: 'none' }), null);
  const line = machineLine(new Date('2026-12-07T12:00:00Z'));
  assert.match(line, /^Measured 2026-12-07: \d+ cores \(.+\), [\d.]+ GiB memory, Node v\d+\.\d+\.\d+\.$/);
});

test('docs/benchmarks.md has a closed section for each benchmark script', async () => {
  const { DEFAULT_PAGE } = await load();
  const page = readFileSync(DEFAULT_PAGE, 'utf8');
  for (const name of ['throughput', 'reload', 'scale']) {
    const open = page.indexOf(`<!-- bench:${name} -->`);
    assert.ok(open !== -1 && page.indexOf(`<!-- /bench:${name} -->`) > open, name);
    assert.match(
      page.slice(open),
      /^<!-- bench:[a-z]+ -->\nMeasured \d{4}-\d\d-\d\d: /,
      `${name} starts with its machine line`,
    );
  }
});
