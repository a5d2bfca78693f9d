import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  arrowLocation,
  caretUnder,
  clipped,
  esmInCommonJsHint,
  frameLocation,
  headline,
  shortPath,
  typeOnlyImportHint,
} from '../../lib/worker/load-error.js';
import { typeStrippingHint } from '../../lib/type-stripping.js';
import { cleanup, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe('where a load error points', () => {
  it("reads Node's arrow at the head of a stack (CommonJS, file URL, several TypeScript lines)", () => {
    const cjs =
      "/srv/app/lib/util.js:3\nconst x = ;\n          ^\n\nSyntaxError: Unexpected token ';'\n    at wrapSafe (node:internal/modules/cjs/loader:1861:18)";
    assert.deepEqual(arrowLocation(cjs), {
      file: '/srv/app/lib/util.js',
      line: 3,
      column: 11,
      source: 'const x = ;',
      caret: '          ^',
    });
    const ts =
      'file:///srv/app/bad.mts?v=2:2\nconst a = 1;\nlet y: number = ;\n                ^\n\nSyntaxError [ERR_INVALID_TYPESCRIPT_SYNTAX]: Expression expected';
    assert.deepEqual(arrowLocation(ts), {
      file: '/srv/app/bad.mts',
      line: 2,
      column: 17,
      source: 'let y: number = ;',
      caret: '                ^',
    });
    assert.equal(
      arrowLocation("SyntaxError: Unexpected token ';'\n    at compileSourceTextModule (node:internal)"),
      null,
    );
    assert.equal(arrowLocation('node:internal/x:3\nfoo\n^\n'), null, 'not a file of the app');
  });

  it('takes the first stack frame outside Node, tsgund and node_modules, and reads its line', () => {
    const stack = [
      'Error: pool size 0',
      '    at Pool.check (file:///srv/app/node_modules/pg/pool.js:10:3)',
      '    at connect (file:///srv/app/db.mjs:2:9)',
      '    at ModuleJob.run (node:internal/modules/esm/module_job:561:25)',
    ].join('\n');
    const read = (f: string) =>
      f === '/srv/app/db.mjs' ? 'export function connect() {\n\tthrow x;\n}\n' : 'a\n'.repeat(20);
    assert.deepEqual(frameLocation(stack, read), {
      file: '/srv/app/db.mjs',
      line: 2,
      column: 9,
      source: '\tthrow x;',
      caret: '\t       ^',
    });
    const onlyDeps = 'Error: x\n    at /srv/app/node_modules/dep/index.js:4:1\n    at node:internal/y:1:1';
    assert.equal(
      frameLocation(onlyDeps, read)?.file,
      '/srv/app/node_modules/dep/index.js',
      'a dependency if nothing else',
    );
    assert.equal(frameLocation('Error: x\n    at node:internal/y:1:1', read), null);
    assert.equal(
      frameLocation(stack, () => {
        throw new Error('EACCES');
      }),
      null,
      'an unreadable file: no frame',
    );
  });

  it('puts the caret under the column, keeping tabs', () => {
    assert.equal(caretUnder('abc', 1), '^');
    assert.equal(caretUnder('\t\tx = 1', 4), '\t\t ^');
  });

  it('cuts a long source line (minified code) around the column, the caret still under it', () => {
    const source = `${'a'.repeat(500)}BAD${'b'.repeat(500)}`;
    const at = clipped({ file: '/x.js', line: 1, column: 501, source, caret: caretUnder(source, 501) });
    assert.equal(at.source.length, 162);
    assert.ok(at.source.startsWith('…') && at.source.endsWith('…'));
    assert.equal(at.source.slice(at.caret.length - 1, at.caret.length + 2), 'BAD');
    const start = clipped({ file: '/x.js', line: 1, column: 2, source, caret: ' ^' });
    assert.ok(!start.source.startsWith('…'));
    assert.equal(start.caret, ' ^');
    const short = { file: '/x.js', line: 1, column: 1, source: 'x', caret: '^^' };
    assert.equal(clipped(short), short);
  });

  it('names the class and code as Node does', () => {
    assert.equal(headline(new TypeError('boom')), 'TypeError: boom');
    const coded = Object.assign(new SyntaxError('Expression expected'), { code: 'ERR_INVALID_TYPESCRIPT_SYNTAX' });
    assert.equal(headline(coded), 'SyntaxError [ERR_INVALID_TYPESCRIPT_SYNTAX]: Expression expected');
    assert.equal(headline('just text'), 'uncaught string: just text');
  });

  it('hints at "type": "module" or .mts/.mjs for ESM syntax in a file loaded as CommonJS', () => {
    const d = tempDir();
    dirs.push(d);
    mkdirSync(join(d, 'src'));
    writeFileSync(join(d, 'package.json'), '{"type":"commonjs"}');
    const err = new SyntaxError('Cannot use import statement outside a module');
    assert.equal(
      esmInCommonJsHint(err, join(d, 'src/app.ts'), d),
      'hint: src/app.ts uses import/export but loads as CommonJS (package.json says "type": "commonjs"): set "type": "module" in package.json, or rename it to .mts',
    );
    writeFileSync(join(d, 'package.json'), '{"name":"x"}');
    assert.match(
      esmInCommonJsHint(new SyntaxError("Unexpected token 'export'"), join(d, 'app.js'), d)!,
      /package.json has no "type"\).* rename it to \.mjs$/,
    );
    assert.match(
      esmInCommonJsHint(err, join(d, 'app.cts'), d)!,
      /a \.cts file is always CommonJS: rename it to \.mts$/,
    );
    assert.equal(esmInCommonJsHint(new SyntaxError("Unexpected token ';'"), join(d, 'app.js'), d), null);
    assert.equal(
      esmInCommonJsHint(new TypeError('Cannot use import statement outside a module'), join(d, 'app.js'), d),
      null,
    );
  });

  it("hints at 'import type' for a missing export imported by a TypeScript file only", () => {
    const err = new SyntaxError("The requested module './types.ts' does not provide an export named 'Opts'");
    assert.equal(
      typeOnlyImportHint(err, '/srv/app/app.ts'),
      "hint: if 'Opts' is a type (an interface or a type alias), type stripping erases its export: import it with 'import type { Opts }' or 'import { type Opts }'",
    );
    assert.match(typeOnlyImportHint(err, '/srv/app/app.mts')!, /import type \{ Opts \}/);
    assert.match(typeOnlyImportHint(err, '/srv/app/app.cts')!, /import type \{ Opts \}/);
    assert.equal(typeOnlyImportHint(err, '/srv/app/app.mjs'), null, 'a JavaScript importer has no types to strip');
    assert.equal(typeOnlyImportHint(err, null), null);
    assert.equal(typeOnlyImportHint(new SyntaxError("Unexpected token ';'"), '/srv/app/app.ts'), null);
  });

  it('gives the type-stripping hint for unsupported syntax only, not for a plain syntax error', () => {
    const coded = (code: string, message: string) => Object.assign(new SyntaxError(message), { code });
    const enumErr = coded('ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'TypeScript enum is not supported in strip-only mode');
    assert.match(typeStrippingHint(enumErr), /enums, namespaces and parameter properties/);
    const older = coded('ERR_INVALID_TYPESCRIPT_SYNTAX', 'x TypeScript enum is not supported in strip-only mode');
    assert.match(typeStrippingHint(older), /enums, namespaces/);
    const brace = coded(
      'ERR_INVALID_TYPESCRIPT_SYNTAX',
      "'import', and 'export' cannot be used outside of module code",
    );
    assert.equal(typeStrippingHint(brace), '');
    assert.equal(typeStrippingHint(new SyntaxError("Unexpected token ';'")), '');
    assert.equal(typeStrippingHint(null), '');
  });

  it('shows paths below the working directory relative to it', () => {
    assert.equal(shortPath('/srv/app/lib/util.js', '/srv/app'), 'lib/util.js');
    assert.equal(shortPath('/opt/shared/x.js', '/srv/app'), '/opt/shared/x.js');
  });
});
