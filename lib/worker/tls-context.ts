import type { SecureContextOptions } from 'node:tls';
import type { ErrorLog } from '../log/error-line.js';
import type { MasterToWorker } from '../protocol/messages.js';

type TlsContextMessage = Extract<MasterToWorker, { type: 'tls-context' }>;

/** PEM text larger than this is no certificate chain or key that anyone serves. */
const MAX_PEM = 1024 * 1024;

/** The one schema of the message: two PEM strings of bounded size. */
export function isTlsContext(msg: TlsContextMessage): boolean {
  const ok = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= MAX_PEM;
  return ok(msg.cert) && ok(msg.key) && Object.keys(msg).length === 3;
}

export interface Swappable {
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * The TLS server tsgund created and the options it was created with:
 * setSecureContext() replaces all of them, so each renewal passes them all
 * again with the new certificate and key. A renewal that arrives before the
 * server exists is what the server starts with.
 */
export class TlsContext {
  private server: Swappable | null = null;
  private options: SecureContextOptions = {};
  private pending: { cert: string; key: string } | null = null;

  constructor(private readonly log: ErrorLog) {}

  /** The options to create the server with: the files read at boot, or a pair sent since. */
  initial(fromFiles: SecureContextOptions): SecureContextOptions {
    return this.pending ? { ...fromFiles, ...this.pending } : fromFiles;
  }

  serve(server: Swappable, options: SecureContextOptions): void {
    this.server = server;
    this.options = options;
  }

  apply(msg: TlsContextMessage): void {
    if (!isTlsContext(msg)) return;
    const pair = { cert: msg.cert, key: msg.key };
    if (!this.server) {
      this.pending = pair;
      return;
    }
    try {
      this.server.setSecureContext({ ...this.options, ...pair });
      this.options = { ...this.options, ...pair };
    } catch (err) {
      this.log.error('the renewed TLS certificate was refused; the current one stays', err);
    }
  }
}
