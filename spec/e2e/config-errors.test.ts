// A config file that fails in any way is one line naming the file and the problem.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HELLO, cleanup, run, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const CASES: Record<string, [string, RegExp]> = {
  'a module that throws': ["throw new Error('boom');\n", /: boom$/],
  'an exported function that throws': [
    "export default async () => { throw new Error('boom'); };\n",
    /its exported function failed: boom$/,
  ],
  'a circular structure': [
    "const c = { workers: 2, bind: ['127.0.0.1:0'] };\nc.bind.push(c);\nexport default c;\n",
    /setting 'bind' is .*Circular.*, expected a string or a list of strings$/,
  ],
  'a getter that throws': ["export default { get workers() { throw new Error('boom'); } };\n", /: boom$/],
};

describe('config file errors', () => {
  for (const [name, [source, problem]] of Object.entries(CASES)) {
    it(`${name}: one line naming the file, exit 1`, async () => {
      const dir = tempDir();
      dirs.push(dir);
      const file = join(dir, 'tsgund.config.mjs');
      writeFileSync(file, source);
      const proc = run(['start', HELLO, '-c', file]);
      assert.equal((await proc.exit).code, 1);
      assert.equal(proc.lines.length, 1, proc.output);
      assert.ok(proc.lines[0]!.startsWith('tsgund: ') && proc.lines[0]!.includes(file), proc.output);
      assert.match(proc.lines[0]!, problem);
      assert.doesNotMatch(proc.output, /unexpected error/);
    });
  }
});
