// An app that fails to load is reported as Node reports it: the error class,
// file:line:column, the source line with a caret under the place, and one hint
// line for the known traps; --log-level debug adds the stack.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, freePort, run, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

function project(files: Record<string, string>): string {
  const d = tempDir();
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, name)), { recursive: true });
    writeFileSync(join(d, name), text);
  }
  return d;
}

/** Start `app` in `cwd`; resolves with the output once the command has exited (code 4: the app failed to load). */
async function failedStart(app: string, cwd: string, extra: string[] = []): Promise<string[]> {
  const proc = run(['start', app, '-b', `127.0.0.1:${await freePort()}`, ...extra], { cwd });
  const { code } = await proc.exit;
  assert.equal(code, 4, proc.output);
  return proc.lines;
}

/** The lines of the command's verdict: `tsgund: …` and the lines that follow it. */
function verdict(lines: string[]): string[] {
  const i = lines.findIndex((l) => l.startsWith('tsgund: '));
  assert.ok(i >= 0, lines.join('\n'));
  return lines.slice(i);
}

const COMMONJS = '{ "name": "app", "version": "1.0.0", "type": "commonjs" }\n';

describe('an app that fails to load', () => {
  it('a syntax error in a file the app requires: its file:line:column, the line and a caret, in the log and the verdict', async () => {
    const d = project({
      'package.json': COMMONJS,
      'app.js': "const util = require('./lib/util.js');\nmodule.exports = (_req, res) => res.end(util.hi);\n",
      'lib/util.js': "exports.hi = 'hi';\nexports.n = 2;\nconst broken = ;\n",
    });
    const lines = await failedStart('app.js', d);
    assert.deepEqual(verdict(lines).slice(0, 4), [
      "tsgund: app 'app.js' failed to load: SyntaxError: Unexpected token ';'",
      'lib/util.js:3:16',
      'const broken = ;',
      '               ^',
    ]);
    // the master logs the worker's report line by line
    const logged = lines.filter((l) => /\[ERROR\] /.test(l)).map((l) => l.replace(/^.*?\[ERROR\] /, ''));
    const i = logged.findIndex((l) => /failed to boot: app 'app.js' failed to load: SyntaxError/.test(l));
    assert.deepEqual(logged.slice(i + 1, i + 4), ['lib/util.js:3:16', 'const broken = ;', '               ^']);
    assert.doesNotMatch(lines.join('\n'), /^\s+at /m, 'no stack without --log-level debug');
  });

  it('a syntax error in an ES module the app imports (Node gives no place in the stack)', async () => {
    const d = project({
      'app.mjs': "import { hi } from './lib/util.mjs';\nexport default (_req, res) => res.end(hi);\n",
      'lib/util.mjs': "export const hi = 'hi';\n  export const n = ;\n",
    });
    assert.deepEqual(verdict(await failedStart('app.mjs', d)).slice(0, 4), [
      "tsgund: app 'app.mjs' failed to load: SyntaxError: Unexpected token ';'",
      'lib/util.mjs:2:20',
      '  export const n = ;',
      '                   ^',
    ]);
  });

  it('a .ts app with import/export in a "type": "commonjs" package (npm init -y) gets a hint', async () => {
    const d = project({
      'package.json': COMMONJS,
      'app.ts': [
        "import { STATUS_CODES } from 'node:http';",
        'export default (_req: unknown, res: { end(text: string): void }): void => res.end(String(STATUS_CODES[200]));',
      ].join('\n'),
    });
    const lines = await failedStart('app.ts', d);
    const out = verdict(lines);
    assert.equal(
      out[0],
      "tsgund: app 'app.ts' failed to load: SyntaxError: Cannot use import statement outside a module",
    );
    // Node's own warning says the same, raw: the worker keeps it out
    assert.doesNotMatch(lines.join('\n'), /Failed to load the ES module|To load an ES module/);
    assert.deepEqual(out.slice(1, 4), ['app.ts:1:1', "import { STATUS_CODES } from 'node:http';", '^^^^^^']);
    assert.equal(
      out[4],
      'hint: app.ts uses import/export but loads as CommonJS (package.json says "type": "commonjs"): set "type": "module" in package.json, or rename it to .mts',
    );
  });

  it('a type imported without `import type` by a TypeScript app: its place and a hint', async () => {
    const d = project({
      'package.json': '{ "type": "module" }\n',
      'types.ts': 'export interface Opts { greeting: string }\nexport const greeting = "hi";\n',
      'app.ts': [
        "import { Opts, greeting } from './types.ts';",
        'const opts: Opts = { greeting };',
        'export default (_req: unknown, res: { end(text: string): void }): void => res.end(opts.greeting);',
      ].join('\n'),
    });
    const out = verdict(await failedStart('app.ts', d));
    assert.match(out[0]!, /does not provide an export named 'Opts'$/);
    assert.deepEqual(out.slice(1, 4), ['app.ts:1:10', "import { Opts, greeting } from './types.ts';", '         ^^^^']);
    assert.match(out[4]!, /^hint: if 'Opts' is a type .*'import type \{ Opts \}'/);
  });

  it('a plain TypeScript syntax error: file:line:column and a caret, no type-stripping hint', async () => {
    const d = project({
      'package.json': '{ "type": "module" }\n',
      'app.ts':
        'function handler(_req: unknown, res: { end(): void }): void {\n  if (res) {\n    res.end();\n}\n\nexport default handler;\n',
    });
    const out = verdict(await failedStart('app.ts', d));
    assert.match(out[0]!, /^tsgund: app 'app.ts' failed to load: SyntaxError \[ERR_INVALID_TYPESCRIPT_SYNTAX\]: /);
    assert.doesNotMatch(out.join('\n'), /enums, namespaces/);
    assert.deepEqual(out.slice(1, 4), ['app.ts:6:1', 'export default handler;', '^^^^^^']);
  });

  it('a missing export: the exports it has, and how to name one', async () => {
    const d = project({ 'app.mjs': 'export const api = (_req, res) => res.end();\nexport const version = 1;\n' });
    assert.deepEqual(verdict(await failedStart('app.mjs:handler', d)).slice(0, 2), [
      "tsgund: app 'app.mjs:handler' has no export 'handler' (exports: api, version)",
      "hint: name one of them, e.g. app.mjs:api, or export 'handler' from app.mjs",
    ]);
  });

  it('a factory whose promise nothing can settle fails at once, naming the factory', async () => {
    const d = project({ 'app.mjs': 'export default async () => { await new Promise(() => {}); };\n' });
    const t0 = Date.now();
    const out = verdict(await failedStart('app.mjs', d));
    assert.equal(
      out[0],
      "tsgund: app 'app.mjs' cannot finish loading: the factory it exports returned a promise that nothing left can settle (no timer, socket or request is pending)",
    );
    assert.ok(Date.now() - t0 < 10_000, 'well before the 30 s boot timeout');
  });

  it('a factory that waits on a timer past the boot timeout: the timeout, with a hint', async () => {
    const d = project({
      'app.mjs': 'export default async () => { await new Promise((r) => setTimeout(r, 600_000)); };\n',
    });
    const out = verdict(await failedStart('app.mjs', d, ['--boot-timeout', '5']));
    assert.equal(out[0], "tsgund: app 'app.mjs' did not finish loading within the boot timeout (5 s)");
    assert.match(out[1]!, /^hint: its top-level code or the factory it exports waits on something that never settles/);
  });

  it('a throw in the app: the first frame in its own code, and the stack with --log-level debug', async () => {
    const d = project({
      'app.mjs':
        "import { connect } from './db.mjs';\nexport default async () => {\n  await connect();\n  return (_req, res) => res.end();\n};\n",
      'db.mjs': "export async function connect() {\n  throw new RangeError('pool size 0');\n}\n",
    });
    const lines = await failedStart('app.mjs', d, ['--log-level', 'debug']);
    const out = verdict(lines);
    assert.deepEqual(out.slice(0, 4), [
      "tsgund: app 'app.mjs' failed to start: RangeError: pool size 0",
      'db.mjs:2:9',
      "  throw new RangeError('pool size 0');",
      '        ^',
    ]);
    assert.equal(out[4], 'stack:');
    assert.match(out[5]!, /^\s+at connect \(file:\/\/.*\/db\.mjs:2:9\)$/);
  });
});
