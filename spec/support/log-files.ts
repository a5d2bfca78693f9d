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
