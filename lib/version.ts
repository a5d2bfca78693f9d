// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { readFileSync } = process.getBuiltinModule('node:fs');

/** tsgund's own version, from its package.json. */
export const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
