import { cosmiconfig, defaultLoaders, type Loader, type PublicExplorer } from 'cosmiconfig';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, oneLine } from '../errors.js';

const MODULE = 'tsgund';

const SEARCH_PLACES = [
  'package.json',
  `.${MODULE}rc`,
  `.${MODULE}rc.json`,
  `.${MODULE}rc.yaml`,
  `.${MODULE}rc.yml`,
  `.${MODULE}rc.js`,
  `.${MODULE}rc.ts`,
  `.${MODULE}rc.mjs`,
  `.${MODULE}rc.cjs`,
  `${MODULE}.config.js`,
  `${MODULE}.config.ts`,
  `${MODULE}.config.mjs`,
  `${MODULE}.config.cjs`,
  `${MODULE}.config.json`,
  `${MODULE}.config.yaml`,
  `${MODULE}.config.yml`,
];

// cosmiconfig's own JS loaders return the module that was imported first, so an
// edited config would be ignored on HUP. These loaders load the file afresh
// every time: CommonJS leaves require.cache, ESM gets a new URL per load.
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

const loadCjs: Loader = (filepath) => {
  delete requireHere.cache[filepath];
  return requireHere(filepath) as unknown;
};

const loadEsm: Loader = async (filepath) => {
  delete requireHere.cache[filepath]; // a .js file in a CommonJS package is cached there too
  const url = `${pathToFileURL(filepath).href}?v=${++loadCount}`;
  return pickDefault((await import(url)) as Record<string, unknown>);
};

// TypeScript configs are transpiled in-process with the TypeScript compiler
// and imported from a temporary .mjs beside the original, so that relative
// imports still resolve. (tsx would leave esbuild service processes running
// in the master and in every worker.)
const loadTs: Loader = async (filepath, content) => {
  const ts = (await import('typescript')).default;
  const { outputText } = ts.transpileModule(content, {
    fileName: filepath,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  const temp = join(dirname(filepath), `.${basename(filepath)}.${process.pid}.${++loadCount}.mjs`);
  writeFileSync(temp, outputText);
  try {
    return pickDefault((await import(pathToFileURL(temp).href)) as Record<string, unknown>);
  } finally {
    rmSync(temp, { force: true });
  }
};

// Created on first use: cosmiconfig reads the current directory's package.json
// as it is created, which must not happen at import (workers import this module).
let explorer: PublicExplorer | null = null;
const getExplorer = (): PublicExplorer =>
  (explorer ??= cosmiconfig(MODULE, {
    searchPlaces: SEARCH_PLACES,
    cache: false,
    loaders: {
      ...defaultLoaders,
      '.js': loadEsm,
      '.mjs': loadEsm,
      '.cjs': loadCjs,
      '.ts': loadTs,
      '.mts': loadTs,
      '.cts': loadTs,
    },
  }));

export interface LoadedFile {
  filepath: string | null;
  config: Record<string, unknown>;
}

/** Read the config file named by -c, or the one cosmiconfig finds from `cwd`. */
export async function loadConfigFile(explicit: string | null, cwd: string): Promise<LoadedFile> {
  let result: Awaited<ReturnType<ReturnType<typeof getExplorer>['search']>>;
  try {
    result = explicit ? await getExplorer().load(explicit) : await getExplorer().search(cwd);
  } catch (err) {
    throw new ConfigError(`cannot load config file ${explicit ?? '(search from ' + cwd + ')'}: ${oneLine(err)}`);
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
