import type { IncomingHttpHeaders } from 'node:http';

const FORWARDED_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port'];

/**
 * `forwardedAllowIps`: only the listed proxies may tell the app who the client
 * is and which scheme it used. From any other peer these headers are removed
 * before the app sees them, so they cannot be spoofed.
 */
export function forwardedFilter(
  allowed: string[],
): ((peerOf: { readonly remoteAddress?: string | undefined }, headers: IncomingHttpHeaders) => void) | null {
  if (allowed.includes('*')) return null;
  const trusted = new Set(allowed);
  // The peer's address is asked for only when such a header is present: socket.remoteAddress
  // is a getpeername() system call, measurable on every new connection.
  return (peerOf, headers) => {
    if (!FORWARDED_HEADERS.some((name) => name in headers)) return;
    const address = peerOf.remoteAddress;
    const peer = address?.startsWith('::ffff:') ? address.slice(7) : address;
    if (peer !== undefined && trusted.has(peer)) return;
    for (const name of FORWARDED_HEADERS) if (name in headers) delete headers[name];
  };
}
