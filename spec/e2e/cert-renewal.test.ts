// Certificates renewed without a restart: certbot-style symlinks in live/
// moved to new files in archive/, a new handshake shows the new serial within
// 2 s with the same workers, an open session carries on, and a pair that does
// not match is refused in one line while the old pair stays.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { cleanup, selfSignedCert, startServer, tempDir, waitFor, workersOf } from '../support/harness.js';

const dir = tempDir('tsgund-certs-');
after(() => cleanup([dir]));

/** The serial number of the certificate a new handshake gets. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/** Point live/NAME at `target`, atomically, as certbot does. */
function relink(live: string, name: string, target: string): void {
  const tmp = join(live, `.${name}.new`);
  symlinkSync(target, tmp);
  renameSync(tmp, join(live, name));
}

function get(session: http2.ClientHttp2Session): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': '/pid' });
    let body = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (body += d));
    s.on('end', () => resolve(body));
    s.on('error', reject);
    s.end();
  });
}

describe('certificate renewal', () => {
  it('swaps the certificate in place when the files change, and refuses a pair that does not match', async () => {
    const pairs = [1, 2, 3].map((n) => {
      const d = join(dir, 'archive', String(n));
      mkdirSync(d, { recursive: true });
      return selfSignedCert(d);
    });
    const serialOf = (n: number) => new X509Certificate(readFileSync(pairs[n]!.cert)).serialNumber;
    const live = join(dir, 'live');
    mkdirSync(live);
    relink(live, 'cert.pem', pairs[0]!.cert);
    relink(live, 'privkey.pem', pairs[0]!.key);
    const certArgs = ['--certfile', join(live, 'cert.pem'), '--keyfile', join(live, 'privkey.pem')];
    const { proc, port } = await startServer(['--http2', '-w', '2', ...certArgs]);
    assert.equal(await servedSerial(port), serialOf(0));
    const pids = workersOf(proc.pid).sort();
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    try {
      await get(session);
      // the certificate lands first, the key a moment later: the mismatch in between is retried
      relink(live, 'cert.pem', pairs[1]!.cert);
      await new Promise((r) => setTimeout(r, 300));
      relink(live, 'privkey.pem', pairs[1]!.key);
      const t0 = Date.now();
      await waitFor(async () => (await servedSerial(port)) === serialOf(1), 'the new serial', 2500, 50);
      assert.ok(Date.now() - t0 < 2000, `new serial after ${Date.now() - t0} ms`);
      await proc.line(/TLS certificate renewed: serial \w+, valid until .*; sent to 2 worker\(s\)/);
      assert.deepEqual(workersOf(proc.pid).sort(), pids);
      assert.match(await get(session), /^\d+\n$/, 'the session opened before the renewal carries on');
      // a certificate whose key never comes
      relink(live, 'cert.pem', pairs[2]!.cert);
      await proc.line(/TLS certificate not renewed: keyfile ".*privkey\.pem" does not match the certificate/, 5000);
      assert.equal(await servedSerial(port), serialOf(1));
      assert.deepEqual(workersOf(proc.pid).sort(), pids);
    } finally {
      session.close();
    }
  });
});
