// Certificates renewed without a restart: certbot-style symlinks in live/
// moved to new files in archive/, a new handshake shows the new serial within
// 2 s with the same workers, an open session carries on, and a pair that does
// not match is refused in one line while the old pair stays. A HUP that names
// other files moves the watch to them; USR1 renews what the watch cannot see.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { cleanup, selfSignedCert, startServer, tempDir, waitFor, workersOf, type Proc } from '../support/harness.js';

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

/** `n` certificate pairs in `root`/archive/1…n, and their serial numbers. */
function archive(root: string, n: number): { pairs: { cert: string; key: string }[]; serials: string[] } {
  const pairs = Array.from({ length: n }, (_, i) => {
    const d = join(root, 'archive', String(i + 1));
    mkdirSync(d, { recursive: true });
    return selfSignedCert(d);
  });
  return { pairs, serials: pairs.map((p) => new X509Certificate(readFileSync(p.cert)).serialNumber) };
}

/** `root`/`name`/cert.pem and privkey.pem, linked to `pair`. */
function linked(root: string, name: string, pair: { cert: string; key: string }): { cert: string; key: string } {
  const live = join(root, name);
  mkdirSync(live, { recursive: true });
  relink(live, 'cert.pem', pair.cert);
  relink(live, 'privkey.pem', pair.key);
  return { cert: join(live, 'cert.pem'), key: join(live, 'privkey.pem') };
}

/** The new serial within 2 s of now, from the same workers. */
async function renewedWithin2s(proc: Proc, port: number, serial: string, pids: number[]): Promise<void> {
  const t0 = Date.now();
  await waitFor(async () => (await servedSerial(port)) === serial, 'the new serial', 2500, 50);
  assert.ok(Date.now() - t0 < 2000, `new serial after ${Date.now() - t0} ms`);
  assert.deepEqual(workersOf(proc.pid).sort(), pids);
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

  it('watches the files a HUP names instead of the old ones', async () => {
    const root = tempDir('tsgund-certs-hup-');
    const { pairs, serials } = archive(root, 3);
    const first = linked(root, 'old', pairs[0]!);
    const config = join(root, 'tsgund.config.json');
    const write = (files: { cert: string; key: string }) =>
      writeFileSync(config, JSON.stringify({ certfile: files.cert, keyfile: files.key, http2: true, workers: 1 }));
    write(first);
    const { proc, port } = await startServer(['-c', config]);
    try {
      const next = linked(root, 'new', pairs[1]!);
      write(next);
      process.kill(proc.pid, 'SIGHUP');
      await proc.line(/Reloaded: generation 2/, 15_000);
      assert.equal(await servedSerial(port), serials[1]);
      // the old generation's worker may still be draining when the reload is reported
      const pids = await waitFor(() => {
        const now = workersOf(proc.pid);
        return now.length === 1 ? now : null;
      }, 'the old worker gone');
      relink(join(root, 'new'), 'privkey.pem', pairs[2]!.key);
      relink(join(root, 'new'), 'cert.pem', pairs[2]!.cert);
      await renewedWithin2s(proc, port, serials[2]!, pids);
    } finally {
      await cleanup([root]);
    }
  });

  it('renews on USR1 what the watch does not see, with the same workers', async () => {
    const root = tempDir('tsgund-certs-usr1-');
    const { pairs, serials } = archive(root, 2);
    // live/ links to mid/, which links into archive/: the watch sees live/ and archive/1/, not mid/
    const mid = linked(root, 'mid', pairs[0]!);
    const live = linked(root, 'live', mid);
    const { proc, port } = await startServer(['--http2', '-w', '2', '--certfile', live.cert, '--keyfile', live.key]);
    try {
      const pids = workersOf(proc.pid).sort();
      relink(join(root, 'mid'), 'privkey.pem', pairs[1]!.key);
      relink(join(root, 'mid'), 'cert.pem', pairs[1]!.cert);
      // long past the watch's settling time: unseen, the old certificate is still served
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await servedSerial(port), serials[0], 'the watch saw the change: the test proves nothing');
      process.kill(proc.pid, 'SIGUSR1');
      await renewedWithin2s(proc, port, serials[1]!, pids);
    } finally {
      await cleanup([root]);
    }
  });
});
