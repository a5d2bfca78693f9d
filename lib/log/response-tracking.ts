import type { ServerResponse } from 'node:http';

const SENT = Symbol('tsgund.sentBodyBytes');
type Counted = ServerResponse & { [SENT]?: number };

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
}

let counting = false;

/**
 * Counts the body bytes the app hands to res.write()/res.end() from now on.
 * ServerResponse's methods are wrapped once, on the prototype, and count only
 * for responses marked here: no per-response closures on the hot path.
 */
export function countBodyBytes(res: ServerResponse): void {
  (res as Counted)[SENT] = 0;
  if (counting) return;
  counting = true;
  // fetched here, not at import: the master imports this module (to validate accessLogFormat) and never serves HTTP
  const proto = process.getBuiltinModule('node:http').ServerResponse.prototype;
  const { write, end } = proto;
  proto.write = function (this: Counted, chunk: unknown, encoding?: unknown) {
    if (this[SENT] !== undefined) this[SENT] += byteLength(chunk, encoding);
    // biome-ignore lint/complexity/noArguments: forwards the caller's exact arity without allocating a rest array
    return Reflect.apply(write, this, arguments);
  } as typeof proto.write;
  proto.end = function (this: Counted, chunk?: unknown, encoding?: unknown) {
    if (this[SENT] !== undefined) this[SENT] += byteLength(chunk, encoding);
    // biome-ignore lint/complexity/noArguments: forwards the caller's exact arity without allocating a rest array
    return Reflect.apply(end, this, arguments);
  } as typeof proto.end;
}

/** The Content-Length header if set, else the bytes counted, else undefined. */
export function bodyBytes(res: ServerResponse): number | undefined {
  const header = res.getHeader('content-length');
  if (header !== undefined) {
    const n = Number(header);
    if (Number.isInteger(n) && n >= 0) return n;
  }
  return (res as Counted)[SENT];
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
