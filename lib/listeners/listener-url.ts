import type { Listener } from './handles.js';

/** The protocols a server tsgund creates offers, when --http2 makes it more than one. */
export const protocolsOf = (settings: { http2: boolean; certfile: string | null }): string | null =>
  settings.http2 ? (settings.certfile ? 'h2, http/1.1' : 'h2c, http/1.1') : null;

/**
 * How a listener is shown in the log and in `status`: a URL for TCP, the
 * label otherwise, followed by the protocols when there are several.
 */
export const listenerUrl = (l: Listener, tls: boolean, protocols: string | null = null): string =>
  (l.address.kind === 'tcp' ? `http${tls ? 's' : ''}://${l.label.replace(/:\d+$/, ':' + l.address.port)}` : l.label) +
  (protocols ? ` (${protocols})` : '');
