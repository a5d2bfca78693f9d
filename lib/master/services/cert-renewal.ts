// Certificates that renew without a restart. Renewal tools (certbot, acme.sh,
// cert-manager) replace the files, often behind symlinks (certbot's live/
// links into archive/), and write the key readable by root only: so the
// master watches the directories of the links and of their targets, reads
// and checks the pair itself, and sends the PEM bytes to the workers, which
// swap their TLS context in place (lib/worker/tls-context.ts). The
// certificate and the key land separately: a pair that does not match is
// tried again for RETRY_FOR_MS before it is refused, and the old pair stays.

import type { KeyObject, X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { errnoOf } from '../../errors.js';
import type { ErrorLog } from '../../log/error-line.js';
import { CODE_WRITERS, UnsafePathError, resolvePinned } from '../../trust/pinned-path.js';
import type { Clock } from '../../clock.js';
import type { FSWatcher } from 'node:fs';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const fs = process.getBuiltinModule('node:fs');

export const RETRY_FOR_MS = 2000;
const RETRY_EVERY_MS = 100;
// a renewal writes several files: look once they have settled for a moment
const SETTLE_MS = 50;

export interface CertPair {
  cert: string;
  key: string;
}

export interface LoadedPair {
  pair: CertPair;
  serial: string;
  validTo: string;
}

/**
 * Read `file` as root would: through symlinks only where no other user
 * could have planted them (safe-open.ts's walk), then without following any.
 */
function readTrusted(file: string, asRoot: boolean): string {
  let real = file;
  if (asRoot) {
    const resolved = resolvePinned(file, CODE_WRITERS);
    if (typeof resolved === 'number') throw new UnsafePathError('it is not a regular file');
    if (resolved.fileReplaceable !== null) throw new UnsafePathError(`its directory is ${resolved.fileReplaceable}`);
    real = resolved.file;
  }
  const fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new UnsafePathError('it is not a regular file');
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

const why = (err: unknown): string => (err instanceof UnsafePathError ? err.message : errnoOf(err));

/** A file's text, or why it cannot be read. */
function readSetting(file: string, setting: string, asRoot: boolean): { text: string } | string {
  try {
    return { text: readTrusted(file, asRoot) };
  } catch (err) {
    return `cannot read ${setting} ${JSON.stringify(file)}: ${why(err)}`;
  }
}

/** The pair in `certfile` and `keyfile` if it is one (a certificate and its key), else why not. */
export function loadPair(certfile: string, keyfile: string, asRoot = process.geteuid?.() === 0): LoadedPair | string {
  const cert = readSetting(certfile, 'certfile', asRoot);
  if (typeof cert === 'string') return cert;
  const key = readSetting(keyfile, 'keyfile', asRoot);
  if (typeof key === 'string') return key;
  // node:crypto costs about 16 ms to load: only a master with a certificate pays it
  const { X509Certificate, createPrivateKey } = process.getBuiltinModule('node:crypto');
  let x509: X509Certificate;
  let privateKey: KeyObject;
  try {
    x509 = new X509Certificate(cert.text);
  } catch {
    return `certfile ${JSON.stringify(certfile)} holds no PEM certificate`;
  }
  try {
    privateKey = createPrivateKey(key.text);
  } catch {
    return `keyfile ${JSON.stringify(keyfile)} holds no PEM private key`;
  }
  if (!x509.checkPrivateKey(privateKey)) {
    return `keyfile ${JSON.stringify(keyfile)} does not match the certificate (serial ${x509.serialNumber})`;
  }
  return { pair: { cert: cert.text, key: key.text }, serial: x509.serialNumber, validTo: x509.validTo };
}

/** The directories whose changes may change `file`: its own, and its target's when it is a symlink. */
export function watchedDirectories(file: string): string[] {
  const dirs = new Set([dirname(file)]);
  try {
    dirs.add(dirname(fs.realpathSync(file)));
  } catch {
    // not there (yet): its own directory will tell when it comes
  }
  return [...dirs];
}

/**
 * Watches certfile and keyfile and, on a change or renew(), sends the new
 * pair to the workers through `send` (which returns how many it reached).
 */
export class CertRenewal {
  private readonly watchers = new Map<string, FSWatcher>();
  private current = '';
  private deadline = 0;
  private timer: NodeJS.Timeout | null = null;
  /** A USR1 asked: send the pair on disk even if it is the one last seen. */
  private forced = false;

  constructor(
    private readonly certfile: string,
    private readonly keyfile: string,
    private readonly log: ErrorLog,
    private readonly send: (pair: CertPair) => number,
    private readonly clock: Clock,
  ) {}

  /** Start watching; the pair on disk now is the one the workers boot with. */
  start(): void {
    const loaded = loadPair(this.certfile, this.keyfile);
    if (typeof loaded !== 'string') this.current = loaded.pair.cert + loaded.pair.key;
    this.watchDirectories();
  }

  /** Whether these are the files watched. */
  watches(certfile: string | null, keyfile: string | null): boolean {
    return certfile === this.certfile && keyfile === this.keyfile;
  }

  /**
   * Look at the files now (USR1), retrying a pair that does not match yet. The
   * pair is sent even if it is the one last seen: the operator asked, and a
   * change that landed between the workers' boot and start() was never sent.
   */
  renew(): void {
    this.deadline = this.clock() + RETRY_FOR_MS;
    this.forced = true;
    this.schedule(0);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private watchDirectories(): void {
    const wanted = new Set([...watchedDirectories(this.certfile), ...watchedDirectories(this.keyfile)]);
    for (const [dir, w] of this.watchers) {
      if (!wanted.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = fs.watch(dir, { persistent: false }, () => this.changed());
        w.on('error', () => this.watchers.delete(dir));
        this.watchers.set(dir, w);
      } catch (err) {
        this.log.warning(`cannot watch ${dir} for certificate renewals: ${errnoOf(err)}; USR1 still renews`);
      }
    }
  }

  private changed(): void {
    this.deadline = this.clock() + RETRY_FOR_MS;
    this.schedule(SETTLE_MS);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.attempt(), ms);
    this.timer.unref();
  }

  private attempt(): void {
    this.timer = null;
    // a renewal may have moved a symlink to a new directory (certbot's archive/)
    this.watchDirectories();
    const loaded = loadPair(this.certfile, this.keyfile);
    if (typeof loaded === 'string') {
      if (this.clock() < this.deadline) this.schedule(RETRY_EVERY_MS);
      else this.log.error(`TLS certificate not renewed: ${loaded}; the current pair stays`);
      return;
    }
    const id = loaded.pair.cert + loaded.pair.key;
    if (id === this.current && !this.forced) return;
    this.forced = false;
    this.current = id;
    const reached = this.send(loaded.pair);
    this.log.info(
      `TLS certificate renewed: serial ${loaded.serial}, valid until ${loaded.validTo}; sent to ${reached} worker(s)`,
    );
  }
}
