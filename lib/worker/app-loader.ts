import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT, UserError, oneLine } from '../errors.js';
import { fetchToListener, type FetchHandler } from './fetch-adapter.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

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

function resolveModule(module: string, cwd: string): string {
  const asPath = resolve(cwd, module);
  if (existsSync(asPath)) return pathToFileURL(asPath).href;
  try {
    return pathToFileURL(createRequire(resolve(cwd, 'noop.js')).resolve(module)).href;
  } catch {
    throw new AppLoadError(`app module '${module}' not found (looked in ${cwd})`);
  }
}

const AS_ALLOWED =
  'a request listener (req, res), an object with callback() (Koa), routing() (Fastify), handler or fetch, or an async factory returning one';

type AnyRecord = Record<string, unknown>;
const isFn = (v: unknown): v is (...a: unknown[]) => unknown => typeof v === 'function';

/** Turn whatever the module exported into a Node request listener. */
export async function toListener(value: unknown, label: string, depth = 0): Promise<RequestListener> {
  if (isFn(value)) {
    // a function that takes no arguments is a factory; (req, res[, next]) is a listener
    if (value.length > 0 || depth > 0) return value as RequestListener;
    return toListener(await value(), label, depth + 1);
  }
  if (value && typeof value === 'object') {
    const obj = value as AnyRecord;
    if (isFn(obj.callback)) return obj.callback() as RequestListener; // Koa
    if (isFn(obj.routing) && isFn(obj.ready)) {
      await obj.ready(); // Fastify
      return obj.routing.bind(obj) as RequestListener;
    }
    if (isFn(obj.handler)) return obj.handler.bind(obj) as RequestListener;
    if (isFn(obj.fetch)) return fetchToListener(obj.fetch.bind(obj) as FetchHandler);
  }
  throw new AppLoadError(`app '${label}' is ${value === null ? 'null' : typeof value}, expected ${AS_ALLOWED}`);
}

/** Import the app module and return its request listener; errors are AppLoadErrors. */
export async function loadApp(spec: string, cwd: string): Promise<RequestListener> {
  const { module, exportName } = parseAppSpec(spec);
  const url = resolveModule(module, cwd);
  let mod: AnyRecord;
  try {
    mod = (await import(url)) as AnyRecord;
  } catch (err) {
    throw new AppLoadError(`app '${spec}' failed to load: ${oneLine(err)}`);
  }
  const name = exportName ?? 'default';
  // a CommonJS module imported from ESM puts module.exports on `default`
  let value = mod[name];
  if (value === undefined && exportName && isFn((mod.default as AnyRecord | undefined)?.[exportName] as unknown)) {
    value = (mod.default as AnyRecord)[exportName];
  }
  if (value === undefined) {
    const found = Object.keys(mod).join(', ') || 'none';
    throw new AppLoadError(`app '${spec}' has no export '${name}' (exports: ${found})`);
  }
  try {
    return await toListener(value, spec);
  } catch (err) {
    if (err instanceof AppLoadError) throw err;
    throw new AppLoadError(`app '${spec}' failed to start: ${oneLine(err)}`);
  }
}
