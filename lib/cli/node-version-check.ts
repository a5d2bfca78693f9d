// Imported first by the CLI, so that it runs before anything else of ours. An
// older `node` first on PATH (the `#!/usr/bin/env node` shebang, an init
// script) would otherwise fail later and obscurely, e.g. on a TypeScript config.
// ESM links the whole import graph before evaluating any of it, so this only
// helps while every module of the CLI links on older Node: import from
// `node:*` modules by default export where a named export is recent (the
// end-to-end test runs the CLI under the oldest Node it finds).
// Leaf module: imports nothing, and uses nothing an old Node lacks.

/**
 * package.json's engines.node (a unit test keeps the two equal). The cap is
 * the newest major whose internals were checked: a newer Node is not refused
 * here, but the master and each worker check every internal they need at
 * start (internals/node-internals.ts) and refuse to run without one.
 */
export const ENGINES_NODE = '>=22.18 <27';

/** Whether `version` ('v20.20.2' or '20.20.2') is below the floor of a `>=MAJOR.MINOR[.PATCH] [<MAJOR]` range. */
export function belowFloor(version: string, range: string): boolean {
  const floor = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\s+<\s*\d+)?$/.exec(range.trim());
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!floor || !have) return false;
  for (let i = 1; i <= 3; i++) {
    const a = Number(have[i]);
    const b = Number(floor[i] ?? 0);
    if (a !== b) return a < b;
  }
  return false;
}

/** Where the fix goes: the init script names its defaults file in TSGUND_INITD_DEFAULTS. */
export function newerNodeHint(env: Record<string, string | undefined>): string {
  const defaults = env.TSGUND_INITD_DEFAULTS;
  return defaults
    ? `set NODE= in ${defaults} to a newer node binary (the init script runs the first node on PATH otherwise)`
    : 'run it with a newer node binary';
}

if (belowFloor(process.version, ENGINES_NODE)) {
  process.stderr.write(
    `tsgund: ${process.execPath} is Node ${process.version}; tsgund needs Node ${ENGINES_NODE}: ${newerNodeHint(process.env)}\n`,
  );
  process.exit(1);
}
