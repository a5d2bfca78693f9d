// default import: a named `registerHooks` would fail to link on Node before 22.15, ahead of the CLI's version check
import nodeModule, { type LoadHookSync, type ResolveFnOutput, type ResolveHookSync } from 'node:module';
import { fileURLToPath } from 'node:url';
import { assertRootOnly, checkingFiles } from '../trust/file-trust.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { readFileSync } = process.getBuiltinModule('node:fs');

/**
 * Module resolution for config files (JS and TypeScript, which Node's own type
 * stripping loads), registered in-thread with `module.registerHooks` the first
 * time a config module is imported:
 *
 * - Fresh files on every load: a config is imported as `file.ts?tsgund-config=N`
 *   with a new N each time, and the hook gives every local file it imports
 *   (not under node_modules) the same N, so HUP re-reads an edited config and
 *   the `.ts`/`.js` files it imports, not their first versions in the cache.
 * - `import { defineConfig } from 'tsgund'` resolves to this copy of tsgund
 *   when the config's directory has none (global install, npx).
 * - A `.ts` config with `import`/`export` in a `"type": "commonjs"` package is
 *   loaded as ESM (Node would parse it as CommonJS and fail).
 * - Every file a config or ecosystem file imports or requires, and everything
 *   those import in turn (packages included), runs as root in the master too:
 *   each is checked like the config file itself (trust/file-trust.ts) before it loads.
 */

export const VERSION_PARAM = 'tsgund-config';

// dist/lib/index.js: this module is dist/lib/config/module-hooks.js
const SELF = new URL('../index.js', import.meta.url).href;
const ESM_SYNTAX = /^\s*(import|export)[\s{*]/m;

let registered = false;
/** Paths of the files a config or ecosystem file loaded, not versioned (CommonJS, packages): their imports are checked too. */
const importedByConfig = new Set<string>();

/** Check what `file` (a config or ecosystem file loaded without a version) imports, and what that imports. */
export function checkImportsOf(file: string): void {
  registerConfigHooks();
  importedByConfig.add(file);
}

function checkImport(parentURL: string | undefined, url: string): void {
  if (!checkingFiles() || !url.startsWith('file:') || !parentURL?.startsWith('file:')) return;
  if (!versionOf(parentURL) && !importedByConfig.has(fileURLToPath(parentURL))) return;
  const path = fileURLToPath(url);
  assertRootOnly(path, 'module');
  importedByConfig.add(path);
}

export function registerConfigHooks(): void {
  if (registered) return;
  registered = true;
  nodeModule.registerHooks({ resolve, load });
}

function versionOf(url: string | undefined): string | null {
  if (!url?.startsWith('file:')) return null;
  return new URL(url).searchParams.get(VERSION_PARAM);
}

const resolve: ResolveHookSync = (specifier, context, nextResolve) => {
  let result: ResolveFnOutput;
  try {
    result = nextResolve(specifier, context);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    if (notFound && specifier === 'tsgund') return { url: SELF, format: 'module', shortCircuit: true };
    throw err;
  }
  checkImport(context.parentURL, result.url);
  const version = versionOf(context.parentURL);
  if (version && result.url.startsWith('file:') && !result.url.includes('/node_modules/')) {
    const url = new URL(result.url);
    if (!url.search) {
      url.searchParams.set(VERSION_PARAM, version);
      return { ...result, url: url.href, shortCircuit: true };
    }
  }
  return result;
};

const load: LoadHookSync = (url, context, nextLoad) => {
  const result = nextLoad(url, context);
  if (result.format !== 'commonjs-typescript' || !versionOf(url)) return result;
  const path = fileURLToPath(url);
  if (!path.endsWith('.ts')) return result; // .cts is CommonJS by name
  const source =
    typeof result.source === 'string'
      ? result.source
      : result.source
        ? Buffer.from(result.source as Uint8Array).toString('utf8')
        : readFileSync(path, 'utf8');
  return ESM_SYNTAX.test(source) ? { format: 'module-typescript', source, shortCircuit: true } : result;
};
