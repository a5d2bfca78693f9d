// How an app that fails to load is reported: the error class and message, then
// where it points (file:line:column, the source line and a caret, as Node
// prints an uncaught error), a hint for the known traps, and the stack on
// request. Used by the worker, and by the master for check-config and preload.
import { oneLine } from '../errors.js';
import { typeStrippingHint } from '../type-stripping.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');
const { dirname, isAbsolute, join, relative, sep } = process.getBuiltinModule('node:path');
const { fileURLToPath } = process.getBuiltinModule('node:url');

/** Where an error points, with the source line and its caret line. */
export interface Location {
  file: string;
  line: number;
  column: number;
  source: string;
  caret: string;
}

// tsgund's own files (dist/lib): a stack frame there is never the app's
const OWN_DIR = fileURLToPath(new URL('../', import.meta.url));

/** A path from a stack or an arrow header (`file:///x.ts?v=1`, `/x.js`), or null for node: and the like. */
function pathOf(ref: string): string | null {
  if (ref.startsWith('file://')) {
    try {
      return fileURLToPath(ref.replace(/[?#].*$/, ''));
    } catch {
      return null;
    }
  }
  return isAbsolute(ref) ? ref : null;
}

/**
 * The location Node put at the head of a stack (`file:3`, the source line(s),
 * a caret line), as it does for SyntaxErrors of CommonJS and TypeScript files
 * and for missing named imports.
 */
export function arrowLocation(text: string): Location | null {
  const lines = text.split('\n');
  const head = /^(.+):(\d+)$/.exec(lines[0] ?? '');
  const file = head && pathOf(head[1]!);
  if (!file) return null;
  // a TypeScript error may show several source lines: the caret sits under the last one
  for (let i = 2; i < Math.min(lines.length, 12); i++) {
    const caret = /^([\t ]*)\^+\s*$/.exec(lines[i]!);
    if (!caret) continue;
    return { file, line: Number(head[2]), column: caret[1]!.length + 1, source: lines[i - 1]!, caret: lines[i]! };
  }
  return null;
}

/** The caret line under column `column` (1-based) of `source`, keeping its tabs as Node does. */
export function caretUnder(source: string, column: number): string {
  const pad = source.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, ' ');
  return `${pad}^`;
}

/** Longer source lines (minified code) are shown around the column. */
const MAX_SOURCE = 160;

/** `at` with a long source line cut to MAX_SOURCE characters around the column, marked with '…'. */
export function clipped(at: Location): Location {
  if (at.source.length <= MAX_SOURCE) return at;
  const start = Math.max(0, Math.min(at.column - 1 - MAX_SOURCE / 2, at.source.length - MAX_SOURCE));
  const head = start > 0 ? '…' : '';
  const tail = start + MAX_SOURCE < at.source.length ? '…' : '';
  const source = head + at.source.slice(start, start + MAX_SOURCE) + tail;
  return { ...at, source, caret: caretUnder(source, at.column - start + head.length) };
}

const FRAME = /^\s+at (?:.*? \()?((?:file:\/\/|\/)[^()]*?):(\d+):(\d+)\)?$/;

/**
 * The first stack frame in the app's own code: outside tsgund and Node, and
 * outside node_modules if any frame is; with its source line read from disk.
 */
export function frameLocation(stack: string, readSource = (f: string) => readFileSync(f, 'utf8')): Location | null {
  const frames: { file: string; line: number; column: number }[] = [];
  for (const l of stack.split('\n')) {
    const m = FRAME.exec(l);
    const file = m && pathOf(m[1]!);
    if (file && !file.startsWith(OWN_DIR)) frames.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  const frame = frames.find((f) => !f.file.split(sep).includes('node_modules')) ?? frames[0];
  if (!frame) return null;
  let source: string | undefined;
  try {
    source = readSource(frame.file).split('\n')[frame.line - 1]?.replace(/\r$/, '');
  } catch {
    return null;
  }
  if (source === undefined) return null;
  return { ...frame, source, caret: caretUnder(source, frame.column) };
}

/**
 * For an ES module's SyntaxError, which carries no location in its stack: link
 * the app's module graph again in a child Node, which prints the location when
 * the error is fatal there. A first import that exits keeps every module of the
 * app from running (a graph evaluates only once it has linked, in import order).
 */
function probeModuleSyntax(url: string): Location | null {
  const env = { ...process.env };
  for (const k of ['NODE_UNIQUE_ID', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE']) delete env[k];
  const code = `import 'data:text/javascript,process.exit(0)';\nimport ${JSON.stringify(url)};\n`;
  // loaded as this process loads modules (NODE_OPTIONS and flags such as --import tsx), minus the inspector
  const flags = process.execArgv.filter((a) => !/^--inspect/.test(a));
  // node:child_process only when an app failed to load, not on every worker's boot
  const r = process
    .getBuiltinModule('node:child_process')
    .spawnSync(process.execPath, [...flags, '--input-type=module', '-e', code], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 15_000,
    });
  return r.status === 0 ? null : arrowLocation(r.stderr ?? '');
}

/** Where `err` points, by the first means that tells. */
function locate(err: unknown, appUrl: string | null): Location | null {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return null;
  const fromArrow = arrowLocation(err.stack);
  if (fromArrow) return fromArrow;
  // an ES module that does not compile: Node keeps the location for when the error is fatal
  const probed = err.name === 'SyntaxError' && appUrl ? probeModuleSyntax(appUrl) : null;
  return probed ?? frameLocation(err.stack);
}

/** The class and message as Node prints them: `SyntaxError [CODE]: message`. */
export function headline(err: unknown): string {
  if (!(err instanceof Error)) return `uncaught ${typeof err}: ${oneLine(err)}`;
  const code = (err as { code?: unknown }).code;
  const name = typeof code === 'string' && !err.name.includes(code) ? `${err.name} [${code}]` : err.name;
  return `${name}: ${oneLine(err)}`;
}

const ESM_IN_CJS =
  /Cannot use import statement outside a module|Unexpected token 'export'|Cannot use 'import\.meta' outside a module/;

/** The nearest package.json above `file` and its "type", or null at the root. */
function packageTypeOf(file: string): { path: string; type: string | null } | null {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) {
      try {
        const type = (JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown }).type;
        return { path, type: typeof type === 'string' ? type : null };
      } catch {
        return { path, type: null };
      }
    }
    if (dirname(dir) === dir) return null;
  }
}

/** One line of advice for ESM syntax in a file Node loaded as CommonJS. */
export function esmInCommonJsHint(err: unknown, file: string | null, cwd: string): string | null {
  if (!(err instanceof Error) || err.name !== 'SyntaxError' || !ESM_IN_CJS.test(err.message) || !file) return null;
  const ext = /\.[cm]?[jt]s$/.exec(file)?.[0] ?? '.js';
  const esmExt = ext.endsWith('ts') ? '.mts' : '.mjs';
  const pkg = packageTypeOf(file);
  const why = !pkg
    ? 'no package.json says "type": "module"'
    : pkg.type
      ? `${shortPath(pkg.path, cwd)} says "type": "${pkg.type}"`
      : `${shortPath(pkg.path, cwd)} has no "type"`;
  if (ext === '.cjs' || ext === '.cts')
    return `hint: ${shortPath(file, cwd)} uses import/export, but a ${ext} file is always CommonJS: rename it to ${esmExt}`;
  return `hint: ${shortPath(file, cwd)} uses import/export but loads as CommonJS (${why}): set "type": "module" in package.json, or rename it to ${esmExt}`;
}

const MISSING_EXPORT = /does not provide an export named '([^']+)'/;

/**
 * One line of advice for a type imported without `import type` by a TypeScript
 * file: type stripping erases the interface or alias, so the module that
 * declared it has no such export when Node links the importer.
 */
export function typeOnlyImportHint(err: unknown, importer: string | null): string | null {
  if (!(err instanceof Error) || err.name !== 'SyntaxError' || !importer || !/\.[cm]?ts$/.test(importer)) return null;
  const name = MISSING_EXPORT.exec(err.message)?.[1];
  if (!name) return null;
  return `hint: if '${name}' is a type (an interface or a type alias), type stripping erases its export: import it with 'import type { ${name} }' or 'import { type ${name} }'`;
}

/** A path relative to `cwd` when it lies below it. */
export function shortPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

export interface LoadFailure {
  /** The app spec and what failed ("failed to load", "failed to start"). */
  what: string;
  err: unknown;
  /** The app module's URL, to find a syntax error's place in its import graph. */
  appUrl: string | null;
  cwd: string;
  /** Add the stack (--log-level debug). */
  withStack: boolean;
}

/**
 * The report, one item a line: `app 'x' failed to load: Class: message`, the
 * location (`lib/util.js:3:11`, the source line, the caret), a hint, the stack.
 */
export function describeLoadFailure({ what, err, appUrl, cwd, withStack }: LoadFailure): string {
  const lines = [`${what}: ${headline(err)}${typeStrippingHint(err)}`];
  const found = locate(err, appUrl);
  const at = found && clipped(found);
  if (at) lines.push(`${shortPath(at.file, cwd)}:${at.line}:${at.column}`, at.source, at.caret);
  const file = at?.file ?? (appUrl ? pathOf(appUrl) : null);
  const hint = esmInCommonJsHint(err, file, cwd) ?? typeOnlyImportHint(err, file);
  if (hint) lines.push(hint);
  if (withStack && err instanceof Error && err.stack) lines.push('stack:', ...stackFrames(err.stack));
  return lines.join('\n');
}

/** The `at …` lines of a stack (the message and Node's arrow above them are already shown). */
const stackFrames = (stack: string): string[] => {
  const lines = stack.split('\n');
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  return first < 0 ? lines : lines.slice(first);
};
