import { ConfigError } from '../errors.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { isIP } = process.getBuiltinModule('node:net');
const { resolve } = process.getBuiltinModule('node:path');

export type BindAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; fd: number };

const ALLOWED = 'HOST:PORT, [IPv6]:PORT, HOST (port 8000), unix:PATH or fd://N';
// as in gunicorn, a host without a port means port 8000
const DEFAULT_PORT = 8000;

/** Parse one `bind` value; throws a ConfigError naming the setting and the value. */
export function parseBind(value: string, setting = 'bind'): BindAddress {
  const bad = (why: string) => new ConfigError(`setting '${setting}': '${value}' ${why}; expected ${ALLOWED}`);
  if (value.startsWith('unix:')) {
    const path = value.slice(5);
    if (!path) throw bad('has no socket path');
    return { kind: 'unix', path: resolve(path) };
  }
  if (value.startsWith('fd://')) {
    const fd = Number(value.slice(5));
    if (!Number.isInteger(fd) || fd < 0) throw bad('is not a file descriptor number');
    return { kind: 'fd', fd };
  }
  const hostOnly = /^(\[[^\]]*\]|[^:[\]]+)$/.test(value);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(hostOnly ? `${value}:${DEFAULT_PORT}` : value);
  if (!m) throw bad('is not a valid address');
  const host = m[1] ?? (m[2] || '0.0.0.0');
  const port = Number(m[3]);
  if (port > 65535) throw bad('has a port above 65535');
  if (m[1] !== undefined && isIP(host) !== 6) throw bad('has an invalid IPv6 address');
  return { kind: 'tcp', host, port };
}

export function formatBind(a: BindAddress): string {
  switch (a.kind) {
    case 'unix':
      return `unix:${a.path}`;
    case 'fd':
      return `fd://${a.fd}`;
    case 'tcp':
      return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  }
}
