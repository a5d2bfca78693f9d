import type { Loader, Loaders, PublicExplorer } from 'cosmiconfig';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { typeStrippingHint } from '../type-stripping.js';
import { ConfigError, oneLine } from '../errors.js';
import { UntrustedFileError, assertRootOnly, checkingFiles } from '../trust/file-trust.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');

const MODULE = 'tsgund';

const SEARCH_PLACES = [
  'package.json',
  `.${MODULE}rc`,
  `.${MODULE}rc.json`,
  `.${MODULE}rc.yaml`,
  `.${MODULE}rc.yml`,
  `.${MODULE}rc.js`,
  `.${MODULE}rc.ts`,
  `.${MODULE}rc.mts`,
  `.${MODULE}rc.cts`,
  `.${MODULE}rc.mjs`,
  `.${MODULE}rc.cjs`,
  `${MODULE}.config.js`,
  `${MODULE}.config.ts`,
  `${MODULE}.config.mts`,
  `${MODULE}.config.cts`,
  `${MODULE}.config.mjs`,
  `${MODULE}.config.cjs`,
  `${MODULE}.config.json`,
  `${MODULE}.config.yaml`,
  `${MODULE}.config.yml`,
];

/** Where cosmiconfig looks (in the working directory) for a meta config that may add search places. */
const META_PLACES = [
  'package.yaml',
  '.config/config.json',
  '.config/config.yaml',
  '.config/config.yml',
  '.config/config.js',
  '.config/config.ts',
  '.config/config.cjs',
  '.config/config.mjs',
];

/**
 * Whether a search from `cwd` could find a config: any file of SEARCH_PLACES
 * or META_PLACES (in `metaDir`), or a package.json with a `tsgund` or
 * `cosmiconfig` key (or one that does not parse, for cosmiconfig to report).
 * When nothing is there the answer is known without importing cosmiconfig,
 * which costs about 15 ms of every start and every HUP.
 */
export function mayHoldConfig(cwd: string, metaDir = process.cwd()): boolean {
  if (SEARCH_PLACES.some((place) => place !== 'package.json' && existsSync(join(cwd, place)))) return true;
  if (META_PLACES.some((place) => existsSync(join(metaDir, place)))) return true;
  return [...new Set([cwd, metaDir])].some((dir) => {
    let text: string;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'ENOENT'; // an unreadable one is cosmiconfig's to report
    }
    try {
      const pkg: unknown = JSON.parse(text);
      return pkg === null || typeof pkg !== 'object' || MODULE in pkg || 'cosmiconfig' in pkg;
    } catch {
      return true;
    }
  });
}

// cosmiconfig's own JS loaders return the module that was imported first, so an
// edited config would be ignored on HUP. These loaders load the file afresh
// every time: ESM (and TypeScript, through Node's type stripping) gets a new
// URL per load, which module-hooks.ts hands on to the local files it imports;
// CommonJS leaves require.cache with the local modules it required.
let loadCount = 0;
const requireHere = createRequire(import.meta.url);

// A TS or CommonJS module seen through import() can wrap the default export
// twice ({ default: { default: config } }); unwrap to the config itself.
const pickDefault = (mod: Record<string, unknown>): unknown => {
  let value: unknown = 'default' in mod ? mod.default : mod;
  while (
    value &&
    typeof value === 'object' &&
    'default' in value &&
    Object.keys(value).every((k) => k === 'default' || k === '__esModule')
  ) {
    value = (value as Record<string, unknown>).default;
  }
  return value;
};

/** Forget a CommonJS module and the local (not node_modules) modules it required. */
function uncache(filepath: string): void {
  const mod = requireHere.cache[filepath];
  delete requireHere.cache[filepath];
  for (const child of mod?.children ?? []) {
    if (!child.filename.includes('/node_modules/') && requireHere.cache[child.filename]) uncache(child.filename);
  }
}

const loadCjs: Loader = async (filepath) => {
  // resolves `require('tsgund')`, and checks what the file requires
  (await import('./module-hooks.js')).checkImportsOf(filepath);
  uncache(filepath);
  return requireHere(filepath) as unknown;
};

// .js, .mjs, .ts, .mts: TypeScript loads through Node's type stripping (no
// compiler, no temp file), so only erasable syntax works: no enums, namespaces
// or parameter properties, and type-only imports need `import type`.
const loadEsm: Loader = async (filepath) => {
  const { registerConfigHooks, VERSION_PARAM } = await import('./module-hooks.js');
  registerConfigHooks();
  uncache(filepath); // a .js file in a CommonJS package is cached there too
  const url = `${pathToFileURL(filepath).href}?${VERSION_PARAM}=${++loadCount}`;
  return pickDefault((await import(url)) as Record<string, unknown>);
};

/**
 * A JavaScript or JSON module loaded afresh, as config files are on HUP (a PM2
 * ecosystem file re-read for a reload); the caller has checked who owns it.
 */
export async function loadModuleFresh(filepath: string): Promise<unknown> {
  if (filepath.endsWith('.json')) return JSON.parse(readFileSync(filepath, 'utf8')) as unknown;
  // what it requires is checked like the file itself: a CommonJS file imported has no versioned URL to
  // tell its requires by, so it is named to the hooks (module-hooks.ts)
  (await import('./module-hooks.js')).checkImportsOf(filepath);
  return /\.c[jt]s$/.test(filepath) ? loadCjs(filepath, '') : loadEsm(filepath, '');
}

const isPackageFile = (file: string): boolean => /^package\.(json|ya?ml)$/.test(basename(file));

/** Whether a package.json (or package.yaml) holds settings for us or for cosmiconfig. */
const holdsConfig = (pkg: unknown): boolean =>
  pkg !== null && typeof pkg === 'object' && (MODULE in pkg || 'cosmiconfig' in pkg);

/**
 * Each loader checks its file (trust/file-trust.ts) before it loads it; a
 * package.json only once it is known to hold our settings (parsing it runs
 * nothing), as most of them belong to the app alone.
 */
function checkedLoaders(loaders: Loaders): Loaders {
  const checked: Loaders = {};
  for (const [ext, load] of Object.entries(loaders)) {
    checked[ext] = async (filepath, content) => {
      if (!isPackageFile(filepath)) assertRootOnly(filepath, 'config file');
      const value: unknown = await load(filepath, content);
      if (isPackageFile(filepath) && holdsConfig(value)) assertRootOnly(filepath, 'config file');
      return value;
    };
  }
  return checked;
}

/**
 * cosmiconfig reads (and for a .js one, imports) a meta config of the current
 * directory as it creates its explorer, with its own loaders: check those first.
 */
function checkMetaConfig(dir: string): void {
  if (!checkingFiles()) return;
  for (const place of META_PLACES) if (existsSync(join(dir, place))) assertRootOnly(join(dir, place), 'config file');
  let pkg: unknown = null;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    // none, or one cosmiconfig will report
  }
  if (holdsConfig(pkg)) assertRootOnly(join(dir, 'package.json'), 'config file');
}

// Created on first use: cosmiconfig reads the current directory's package.json
// as it is created, which must not happen at import (workers import this module).
// Imported then too, so a worker without hooks never loads it.
let explorer: PublicExplorer | null = null;
async function getExplorer(): Promise<PublicExplorer> {
  if (explorer) return explorer;
  const { cosmiconfig, defaultLoaders } = await import('cosmiconfig');
  checkMetaConfig(process.cwd());
  explorer = cosmiconfig(MODULE, {
    searchPlaces: SEARCH_PLACES,
    cache: false,
    loaders: checkedLoaders({
      ...defaultLoaders,
      '.js': loadEsm,
      '.mjs': loadEsm,
      '.cjs': loadCjs,
      '.ts': loadEsm,
      '.mts': loadEsm,
      '.cts': loadCjs,
    }),
  });
  return explorer;
}

export interface LoadedFile {
  filepath: string | null;
  config: Record<string, unknown>;
}

/** Read the config file named by -c, or the one cosmiconfig finds from `cwd`. */
export async function loadConfigFile(explicit: string | null, cwd: string): Promise<LoadedFile> {
  if (!explicit && !mayHoldConfig(cwd)) return { filepath: null, config: {} };
  let result: Awaited<ReturnType<PublicExplorer['search']>>;
  try {
    const explorer = await getExplorer();
    result = explicit ? await explorer.load(explicit) : await explorer.search(cwd);
  } catch (err) {
    if (err instanceof UntrustedFileError) throw err;
    const where = explicit ?? '(search from ' + cwd + ')';
    throw new ConfigError(`cannot load config file ${where}: ${oneLine(err)}${typeStrippingHint(err)}`);
  }
  if (!result || result.isEmpty) return { filepath: result?.filepath ?? null, config: {} };
  let config: unknown = result.config;
  // a config module may export a (possibly async) function returning the settings
  if (typeof config === 'function') {
    try {
      config = await (config as () => unknown)();
    } catch (err) {
      throw new ConfigError(`config file ${result.filepath}: its exported function failed: ${oneLine(err)}`);
    }
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError(`config file ${result.filepath} must export an object of settings, got ${typeof config}`);
  }
  return { filepath: result.filepath, config: config as Record<string, unknown> };
}
