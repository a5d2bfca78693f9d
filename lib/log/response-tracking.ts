import type { ServerResponse } from 'node:http';
import { computedContentLength } from '../internals/node-internals.js';

const SENT = Symbol('tsgund.sentBodyBytes');
const AT_END = Symbol('tsgund.atEnd');
type Tracked = ServerResponse & { [SENT]?: number; [AT_END]?: (res: ServerResponse) => void };

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
}

let wrappedHttp1 = false;
let wrappedHttp2 = false;
let ServerResponseClass: typeof ServerResponse | null = null;

/** Whether `res` is node:http's (or https's) ServerResponse, not http2's compatibility response. */
export function isHttp1Response(res: object): boolean {
  ServerResponseClass ??= process.getBuiltinModule('node:http').ServerResponse;
  return res instanceof ServerResponseClass;
}

function runAtEnd(res: Tracked): void {
  const atEnd = res[AT_END];
  res[AT_END] = undefined;
  // a connection already gone gets no line, as it would get no 'finish'
  if (atEnd !== undefined && !res.destroyed) atEnd(res);
}

/** The Content-Length the response declares (by setHeader or writeHead), else Infinity. */
function declaredLength(res: ServerResponse): number {
  const header = res.getHeader('content-length') ?? computedContentLength(res);
  const n = header === undefined || header === null ? Number.NaN : Number(header);
  return Number.isInteger(n) && n >= 0 ? n : Number.POSITIVE_INFINITY;
}

/**
 * ServerResponse's write() and end() are wrapped once, on the prototype, and
 * act only for responses marked by countBodyBytes() or beforeLastBytes(): no
 * per-response closures or listeners on the hot path.
 */
function wrapResponsePrototype(): void {
  if (wrappedHttp1) return;
  wrappedHttp1 = true;
  // fetched here, not at import: the master imports this module (to validate accessLogFormat) and never serves HTTP
  wrapPrototype(process.getBuiltinModule('node:http').ServerResponse.prototype);
}

/** http2's compatibility response counts its body bytes the same way (it has no AT_END hook: see access-log.ts). */
function wrapHttp2ResponsePrototype(): void {
  if (wrappedHttp2) return;
  wrappedHttp2 = true;
  // its end() writes its chunk through write(): only write() counts
  const proto = process.getBuiltinModule('node:http2').Http2ServerResponse.prototype as unknown as ServerResponse;
  const { write } = proto;
  proto.write = function (this: Tracked, chunk: unknown, encoding?: unknown) {
    if (this[SENT] !== undefined) this[SENT] += byteLength(chunk, encoding);
    // biome-ignore lint/complexity/noArguments: forwards the caller's exact arity without allocating a rest array
    return Reflect.apply(write, this, arguments);
  } as typeof proto.write;
}

function wrapPrototype(proto: ServerResponse): void {
  const { write, end } = proto;
  proto.write = function (this: Tracked, chunk: unknown, encoding?: unknown) {
    if (this[SENT] !== undefined) {
      this[SENT] += byteLength(chunk, encoding);
      // a body that reaches its Content-Length is complete for the client, whenever end() comes
      if (this[AT_END] !== undefined && this[SENT] >= declaredLength(this)) runAtEnd(this);
    }
    // biome-ignore lint/complexity/noArguments: forwards the caller's exact arity without allocating a rest array
    return Reflect.apply(write, this, arguments);
  } as typeof proto.write;
  proto.end = function (this: Tracked, chunk?: unknown, encoding?: unknown) {
    if (!this.writableEnded) {
      if (this[SENT] !== undefined) this[SENT] += byteLength(chunk, encoding);
      runAtEnd(this);
    }
    // biome-ignore lint/complexity/noArguments: forwards the caller's exact arity without allocating a rest array
    return Reflect.apply(end, this, arguments);
  } as typeof proto.end;
}

/** Counts the body bytes the app hands to res.write()/res.end() from now on. */
export function countBodyBytes(res: ServerResponse): void {
  (res as Tracked)[SENT] = 0;
  if (isHttp1Response(res)) wrapResponsePrototype();
  else wrapHttp2ResponsePrototype();
}

/**
 * Calls `fn` once, synchronously, when the response is complete for the
 * client: when the app calls res.end(), or earlier when a write() brings the
 * body counted by countBodyBytes() to the declared Content-Length. `fn` runs
 * after that call's bytes are counted and before they are handed to the
 * socket, so whatever it writes synchronously is in the kernel before the
 * client can have the whole response. Not called if the response is
 * destroyed (the connection closed) first.
 */
export function beforeLastBytes(res: ServerResponse, fn: (res: ServerResponse) => void): void {
  (res as Tracked)[AT_END] = fn;
  wrapResponsePrototype();
}

/** The Content-Length header if set, else the bytes counted, else undefined. */
export function bodyBytes(res: ServerResponse): number | undefined {
  const header = res.getHeader('content-length');
  if (header !== undefined) {
    const n = Number(header);
    if (Number.isInteger(n) && n >= 0) return n;
  }
  return (res as Tracked)[SENT];
}

/**
 * Headers given only to writeHead() are not visible to res.getHeader();
 * routing them through setHeader() (as Node itself does once any header was
 * set) makes them visible to the %({name}o)s atoms. The flat-array form of
 * writeHead headers is passed through as is.
 */
export function keepWriteHeadHeaders(res: ServerResponse): void {
  const { writeHead } = res;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const headers = typeof rest[0] === 'string' ? rest[1] : rest[0];
    if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
      return Reflect.apply(writeHead, this, [status, ...rest]);
    }
    for (const [name, value] of Object.entries(headers)) {
      if (name) this.setHeader(name, value as string | number | readonly string[]);
    }
    return Reflect.apply(writeHead, this, typeof rest[0] === 'string' ? [status, rest[0]] : [status]);
  } as typeof res.writeHead;
}
