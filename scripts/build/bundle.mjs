// The processes' entry points as bundles, after tsc. A master, a worker and
// every command otherwise load their modules one by one through Node's ES
// module loader (resolve, realpath, read, link: some 50 modules for a worker,
// 120 for a master); bundled, a worker's own start-up took 46 ms of CPU
// instead of 64 (Node 24, 2 cores, docs/development.md). tsc's output stays
// as it is for the package's API (dist/lib/index.js) and the tests; only
// these entry files are replaced, each by its bundle, with the code they
// share and what they import on demand in chunks under dist/lib/bundle/.
//
// Two rules keep a bundle equal to the modules it replaces:
// - every entry and chunk sits one folder below dist/lib, and each module's
//   `import.meta.url` is rewritten to its own file's URL, so the paths the
//   code builds from it (the worker's entry, the addon, package.json) stay;
// - the worker's entry, its preload and the hang helper are bundled in one
//   run: a module they share is one chunk, loaded once per process.
//
//   node scripts/build/bundle.mjs      (npm run build runs it after tsc)

import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const LIB = join(ROOT, 'lib');
const OUT = join(ROOT, 'dist/lib');

/** Entry points: what node runs as a process or a thread. */
const ENTRIES = [
  'cli/main.ts',
  'worker/main.ts',
  'worker/preload.ts',
  'worker/hang-helper.ts',
  'daemon/intermediate.ts',
];

/** `import.meta.url` as the URL of the module's own file in dist/lib, from any output one folder below it. */
const ownUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
      const text = await readFile(path, 'utf8');
      const own = `../${relative(LIB, path).replace(/\.ts$/, '.js')}`;
      return {
        contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`),
        loader: 'ts',
      };
    });
  },
};

await rm(join(OUT, 'bundle'), { recursive: true, force: true });
await build({
  entryPoints: ENTRIES.map((e) => join(LIB, e)),
  outbase: LIB,
  outdir: OUT,
  chunkNames: 'bundle/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  plugins: [ownUrl],
  logLevel: 'warning',
  legalComments: 'none',
});
