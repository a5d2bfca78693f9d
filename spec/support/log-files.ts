import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/** A temp dir for one test file's logs, removed after the file's tests. */
export function logScratch(prefix: string): { dir: string; freshPath: () => string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsgund-log-${prefix}-`));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let seq = 0;
  return { dir, freshPath: () => path.join(dir, `${prefix}${++seq}.log`) };
}

/** The lines of a log file, asserting it does not end mid-line. */
export function lines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends mid-line`);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/**
 * Write 20,000 lines through `write`, renaming `file` to `file.1` and calling
 * `reopen` halfway (as logrotate does) while lines keep coming; returns the
 * lines of both files in order, after checking each file got some.
 */
export async function writeAcrossRotation(
  file: string,
  log: { reopen(): void; close(): Promise<void> },
  write: (i: number) => void,
): Promise<string[]> {
  for (let i = 0; i < 20_000; i++) {
    if (i === 10_000) {
      fs.renameSync(file, `${file}.1`);
      log.reopen();
    }
    write(i);
    // let writes complete while lines are still being written
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  await log.close();
  const oldLines = lines(`${file}.1`);
  const newLines = lines(file);
  assert.ok(oldLines.length >= 10_000 && newLines.length > 0, `${oldLines.length} + ${newLines.length}`);
  return [...oldLines, ...newLines];
}
