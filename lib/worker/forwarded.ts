import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { allowList } from '../allow-list.js';

/** Headers through which a proxy tells the app who the client is and how it connected. */
const FORWARDED_HEADERS = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
]);
// their name lengths (and transfer-encoding's): most headers are ruled out without lowercasing them
const MIN_NAME = 9;
const MAX_NAME = 17;

/** What the filter needs of a request: node:http's IncomingMessage, or http2's compatibility request. */
type Request = Pick<IncomingMessage, 'rawHeaders' | 'headers' | 'socket'> & {
  headersDistinct?: IncomingMessage['headersDistinct'];
  rawTrailers?: string[];
  trailers?: IncomingMessage['trailers'];
  trailersDistinct?: IncomingMessage['trailersDistinct'];
  prependOnceListener?: IncomingMessage['prependOnceListener'];
  /** http2's compatibility request: its stream, whose session is the connection. */
  stream?: EventEmitter & { session?: object };
};

const FORWARDING = 1;
/** A body that may end in trailers: a chunked HTTP/1.1 one, or any HTTP/2 stream. */
const MAY_TRAIL = 2;

/** Which of FORWARDING and MAY_TRAIL the header names show. */
function scan(raw: string[]): number {
  let found = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length < MIN_NAME || name.length > MAX_NAME) continue;
    const lower = name.toLowerCase();
    if (FORWARDED_HEADERS.has(lower)) found |= FORWARDING;
    else if (lower === 'transfer-encoding') found |= MAY_TRAIL;
  }
  return found;
}

type Views = Record<string, unknown> | undefined;

/** Remove the forwarding headers from the raw list and from each object built from it. */
function strip(raw: string[] | undefined, views: () => Views[]): void {
  if (!raw) return;
  // node:http builds headers and headersDistinct (trailers, trailersDistinct)
  // lazily from the raw list and a count of it that it keeps: build them now,
  // then remove the names from each
  const built = views();
  for (const name of FORWARDED_HEADERS) for (const view of built) if (view) delete view[name];
  // in place: http2's rawHeaders is a getter of this very array
  for (let i = raw.length - 2; i >= 0; i -= 2) if (FORWARDED_HEADERS.has(raw[i]!.toLowerCase())) raw.splice(i, 2);
}

/**
 * Trailers arrive with the end of the body. node:http stores them before it
 * emits 'end', and http2's compatibility request copies them from its
 * stream's 'trailers' event: a listener put first on either removes them
 * before the app can see them, whenever the app added its own.
 */
function stripTrailers(req: Request): void {
  if (req.stream) {
    req.stream.prependOnceListener('trailers', (trailers: Views, _flags: number, raw: string[] | undefined) =>
      strip(raw, () => [trailers]),
    );
  } else req.prependOnceListener?.('end', () => strip(req.rawTrailers, () => [req.trailers, req.trailersDistinct]));
}

/**
 * `forwardedAllowIps`: only the listed proxies may tell the app who the client
 * is and which scheme it used. From any other peer the forwarding headers, and
 * trailers of the same names, are removed before the app sees them, so they
 * cannot be spoofed. Null (nothing to do per request) when every peer is
 * trusted. The verdict is kept per connection, so keep-alive requests cost
 * one lookup.
 */
export function forwardedFilter(entries: string[]): ((req: Request) => void) | null {
  if (entries.includes('*')) return null;
  // built on the first forwarding header: parsing the list is a measurable part of a worker's boot
  let trusts: ((remote: string | undefined) => boolean) | null = null;
  // by connection: an HTTP/2 request's socket is a new proxy per stream, its session is not
  const verdicts = new WeakMap<object, boolean>();
  return (req) => {
    // the peer's address is looked up only when there is something to strip:
    // socket.remoteAddress is a getpeername() system call, measurable per new connection
    const found = scan(req.rawHeaders) | (req.stream ? MAY_TRAIL : 0);
    if (!found) return;
    const connection: object = req.stream?.session ?? req.socket;
    let trusted = verdicts.get(connection);
    if (trusted === undefined) {
      trusts ??= allowList(entries);
      trusted = trusts((req.socket as Socket).remoteAddress);
      verdicts.set(connection, trusted);
    }
    if (trusted) return;
    if (found & FORWARDING) strip(req.rawHeaders, () => [req.headers, req.headersDistinct]);
    if (found & MAY_TRAIL) stripTrailers(req);
  };
}

/**
 * The events through which node:http hands a request to the app. 'upgrade'
 * (WebSockets: ws, socket.io) and 'connect' bypass 'request', as do
 * 'checkContinue' and 'checkExpectation' when the app listens for them.
 */
const REQUEST_EVENTS = new Set(['request', 'upgrade', 'connect', 'checkContinue', 'checkExpectation']);

/**
 * Run `filter` on every request `server` emits, before any listener, however
 * many the app adds and whenever. Wrapping emit rather than adding listeners:
 * an 'upgrade' or 'connect' listener of our own would change how node:http
 * treats those requests when the app has none.
 */
export function filterRequests(server: EventEmitter, filter: (req: Request) => void): void {
  const emit = server.emit;
  server.emit = function (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    if (typeof event === 'string' && REQUEST_EVENTS.has(event)) filter(args[0] as Request);
    return emit.call(this, event, ...args);
  };
}
