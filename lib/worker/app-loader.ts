import type { Server } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EXIT, UserError } from '../errors.js';
import { describeLoadFailure } from './load-error.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { existsSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const net = process.getBuiltinModule('node:net');
const { resolve } = process.getBuiltinModule('node:path');
const { pathToFileURL } = process.getBuiltinModule('node:url');

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;
type Close = () => unknown;

/**
 * What a module gave tsgund to serve: a request listener (tsgund creates the
 * server), a server of its own that tsgund listens, or nothing, for an app
 * that calls listen() itself. `close` shuts the app down in a draining worker.
 */
export type LoadedApp =
  | { kind: 'listener'; listener: RequestListener; close: Close | null }
  | { kind: 'server'; server: Server; close: Close | null }
  | { kind: 'none'; close: Close | null };

/** Where loading is: importing the module (its top-level code), or calling what it exports. */
export type LoadStage = 'import' | 'factory';

export class AppLoadError extends UserError {
  constructor(message: string) {
    super(message, EXIT.appLoad);
  }
}

/** Split `module[:export]`; a colon inside a Windows-style or URL path is not expected here. */
export function parseAppSpec(spec: string): { module: string; exportName: string | null } {
  const i = spec.lastIndexOf(':');
  if (i <= 0) return { module: spec, exportName: null };
  return { module: spec.slice(0, i), exportName: spec.slice(i + 1) || null };
}

/** The URL of the module of `spec` (`module[:export]`), resolved from `cwd`, or an AppLoadError. */
export const resolveAppModule = (spec: string, cwd: string): string => resolveModule(parseAppSpec(spec).module, cwd);

function resolveModule(module: string, cwd: string): string {
  const asPath = resolve(cwd, module);
  if (existsSync(asPath)) return pathToFileURL(asPath).href;
  try {
    return pathToFileURL(createRequire(resolve(cwd, 'noop.js')).resolve(module)).href;
  } catch {
    throw new AppLoadError(`app module '${module}' not found (looked in ${cwd})`);
  }
}

export const AS_ALLOWED =
  'a request listener (req, res), a Koa or Fastify app, an object with handler or fetch, an http/https/http2/net Server that is not listening, or an async factory returning one; or call listen(process.env.PORT) yourself';

type AnyRecord = Record<string, unknown>;
const isFn = (v: unknown): v is (...a: unknown[]) => unknown => typeof v === 'function';

async function fetchListener(fetch: AnyRecord['fetch']): Promise<RequestListener> {
  // loaded on demand: only fetch-style apps pay for the adapter
  const { getRequestListener } = await import('@hono/node-server');
  return getRequestListener(fetch as Parameters<typeof getRequestListener>[0]) as RequestListener;
}

/** Turn whatever the module exported into something tsgund can serve. */
async function toServable(value: unknown, label: string, depth = 0): Promise<LoadedApp> {
  if (value instanceof net.Server) return { kind: 'server', server: value, close: null };
  if (isFn(value)) {
    // a function that takes no arguments is a factory; (req, res[, next]) is a listener
    if (value.length > 0 || depth > 0) return { kind: 'listener', listener: value as RequestListener, close: null };
    return toServable(await value(), label, depth + 1);
  }
  if (value && typeof value === 'object') {
    const obj = value as AnyRecord;
    const close = isFn(obj.close) ? () => (obj.close as () => unknown).call(obj) : null;
    if (isFn(obj.callback)) return { kind: 'listener', listener: obj.callback() as RequestListener, close: null }; // Koa
    if (obj.server instanceof net.Server && isFn(obj.ready)) {
      await obj.ready(); // Fastify: its own server carries routing, upgrades and hooks
      return { kind: 'server', server: obj.server, close };
    }
    if (isFn(obj.handler)) return { kind: 'listener', listener: obj.handler.bind(obj) as RequestListener, close: null };
    if (isFn(obj.fetch)) return { kind: 'listener', listener: await fetchListener(obj.fetch.bind(obj)), close: null };
    // a factory may return { app, close }: close runs when the worker stops
    if ('app' in obj && close) {
      const inner = await toServable(obj.app, label, depth + 1);
      return inner.kind === 'none' ? inner : { ...inner, close };
    }
    // a background app's factory may return { close } alone: it serves nothing
    if (close && depth > 0) return { kind: 'none', close };
  }
  return { kind: 'none', close: null };
}

/** What the value is, for an error message. */
export const describeValue = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;

/** The names a module exports, a CommonJS module's `module.exports` keys included. */
function exportNames(mod: AnyRecord): string[] {
  const names = new Set(Object.keys(mod).filter((k) => k !== 'module.exports'));
  const cjs = mod['module.exports'] ?? mod.default;
  if (cjs && typeof cjs === 'object' && mod.default === cjs)
    for (const k of Object.keys(cjs)) if (isFn((cjs as AnyRecord)[k])) names.add(k);
  return [...names];
}

function missingExport(spec: string, module: string, exportName: string, mod: AnyRecord): string {
  const names = exportNames(mod);
  const found = names.join(', ') || 'none';
  const hint = names.length
    ? `hint: name one of them, e.g. ${module}:${names.find((n) => n !== 'default') ?? names[0]}, or export '${exportName}' from ${module}`
    : `hint: ${module} exports nothing: export '${exportName}' (ESM: export function ${exportName}; CommonJS: exports.${exportName} = ...)`;
  return `app '${spec}' has no export '${exportName}' (exports: ${found})\n${hint}`;
}

/**
 * Import the app module and return what it exports for serving; errors are
 * AppLoadErrors. `kind: 'none'` is not an error here: the app may have called
 * listen() while loading, or call it later.
 */
export async function loadApp(
  spec: string,
  cwd: string,
  { withStack = false, stage = { now: 'import' as LoadStage } } = {},
): Promise<LoadedApp & { exported: unknown }> {
  const { module, exportName } = parseAppSpec(spec);
  const url = resolveModule(module, cwd);
  const failure = (what: string, err: unknown, appUrl: string | null) =>
    new AppLoadError(describeLoadFailure({ what: `app '${spec}' ${what}`, err, appUrl, cwd, withStack }));
  let mod: AnyRecord;
  try {
    mod = (await import(url)) as AnyRecord;
  } catch (err) {
    throw failure('failed to load', err, url);
  }
  // a CommonJS module imported from ESM puts module.exports on `default`
  let value = mod[exportName ?? 'default'];
  if (value === undefined && exportName && isFn((mod.default as AnyRecord | undefined)?.[exportName] as unknown)) {
    value = (mod.default as AnyRecord)[exportName];
  }
  if (value === undefined && exportName) throw new AppLoadError(missingExport(spec, module, exportName, mod));
  stage.now = 'factory';
  try {
    return { ...(await toServable(value, spec)), exported: value };
  } catch (err) {
    throw failure('failed to start', err, null);
  }
}
