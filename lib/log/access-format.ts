import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyBytes } from './response-tracking.js';
import { clfNow } from './time.js';

type Atom = (req: IncomingMessage, res: ServerResponse, elapsedNs: number) => string;

export interface AccessLineFormat {
  /** One complete log line, ending in '\n'. */
  line(req: IncomingMessage, res: ServerResponse, startNs: bigint): string;
  /** b or B is used: body bytes must be counted when no Content-Length is set. */
  readonly countsBytes: boolean;
  /** A {name}o atom is used. */
  readonly readsResponseHeaders: boolean;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
const UNSAFE = /["\\\x00-\x1f\x7f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
const UNSAFE_ALL = /["\\\x00-\x1f\x7f]/g;

/**
 * Missing and empty values print '-'. '"' becomes '\"' as in gunicorn; to keep
 * that unambiguous '\' becomes '\\'; control characters become \xNN as in
 * nginx, which keeps every entry on one line.
 */
function safe(value: string | undefined): string {
  if (value === undefined || value === '') return '-';
  if (!UNSAFE.test(value)) return value;
  return value.replace(UNSAFE_ALL, (c) =>
    c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function headerText(value: string | number | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'object' ? value.join(', ') : String(value);
}

function basicAuthUser(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const credentials = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon === -1 ? credentials : credentials.slice(0, colon);
}

function splitUrl(url: string | undefined): [path: string | undefined, query: string | undefined] {
  if (url === undefined) return [undefined, undefined];
  const q = url.indexOf('?');
  return q === -1 ? [url, undefined] : [url.slice(0, q), url.slice(q + 1)];
}

const CLIENT = Symbol('tsgund.clientAddress');
type Kept = IncomingMessage & { [CLIENT]?: string };

/** Remember the client's address now, for a request whose socket may forget it before its line is made. */
export function keepClientAddress(req: IncomingMessage): void {
  (req as Kept)[CLIENT] = req.socket.remoteAddress;
}

/** Atoms that need the request's elapsed time. */
const TIMED = new Set(['T', 'M', 'D', 'L']);

const ATOMS: Record<string, Atom> = {
  h: (req) => safe((req as Kept)[CLIENT] ?? req.socket.remoteAddress),
  l: () => '-',
  u: (req) => safe(basicAuthUser(req.headers.authorization)),
  t: () => clfNow(),
  // The parser admits only known methods and digit versions; the URL may hold anything.
  r: (req) => `${req.method} ${safe(req.url)} HTTP/${req.httpVersion}`,
  s: (_req, res) => String(res.statusCode),
  m: (req) => safe(req.method),
  U: (req) => safe(splitUrl(req.url)[0]),
  q: (req) => safe(splitUrl(req.url)[1]),
  H: (req) => `HTTP/${req.httpVersion}`,
  b: (_req, res) => String(bodyBytes(res) ?? '-'),
  B: (_req, res) => String(bodyBytes(res) ?? 0),
  f: (req) => safe(req.headers.referer),
  a: (req) => safe(req.headers['user-agent']),
  T: (_req, _res, ns) => String(Math.floor(ns / 1e9)),
  M: (_req, _res, ns) => String(Math.floor(ns / 1e6)),
  D: (_req, _res, ns) => String(Math.floor(ns / 1e3)),
  L: (_req, _res, ns) => (Math.floor(ns / 1e3) / 1e6).toFixed(6),
};

function bracedAtom(name: string, kind: string): Atom {
  if (kind === 'i') {
    const header = name.toLowerCase();
    return (req) => safe(headerText(req.headers[header]));
  }
  if (kind === 'o') return (_req, res) => safe(headerText(res.getHeader(name)));
  return () => safe(process.env[name]);
}

const PIECE = /%\(([^)]*)\)s|%%|%/g;
const BRACED = /^\{([^}]+)\}([ioe])$/;

/**
 * Compiles a gunicorn access_log_format (Python %-formatting with %(atom)s
 * keys and %% for '%') into a line builder; returns the reason when invalid.
 */
export function compileAccessLogFormat(fmt: string): AccessLineFormat | string {
  const literals: string[] = [];
  const atoms: Atom[] = [];
  let literal = '';
  let timed = false;
  let countsBytes = false;
  let readsResponseHeaders = false;
  let last = 0;
  for (const match of fmt.matchAll(PIECE)) {
    literal += fmt.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[0] === '%%') {
      literal += '%';
      continue;
    }
    const name = match[1];
    if (name === undefined) {
      return `'%' at offset ${match.index} must start %(atom)s or be written %%`;
    }
    const braced = BRACED.exec(name);
    let atom: Atom | undefined;
    if (braced) {
      atom = bracedAtom(braced[1], braced[2]);
      readsResponseHeaders ||= braced[2] === 'o';
    } else if (name === 'p') {
      literal += `<${process.pid}>`;
      continue;
    } else {
      atom = Object.hasOwn(ATOMS, name) ? ATOMS[name] : undefined;
      timed ||= TIMED.has(name);
      countsBytes ||= name === 'b' || name === 'B';
    }
    if (!atom) return `unknown atom %(${name})s`;
    literals.push(literal);
    atoms.push(atom);
    literal = '';
  }
  literals.push(`${literal}${fmt.slice(last)}\n`);

  return {
    countsBytes,
    readsResponseHeaders,
    line(req, res, startNs) {
      const elapsedNs = timed ? Number(process.hrtime.bigint() - startNs) : 0;
      let line = literals[0];
      for (let i = 0; i < atoms.length; i++) line += atoms[i](req, res, elapsedNs) + literals[i + 1];
      return line;
    },
  };
}
