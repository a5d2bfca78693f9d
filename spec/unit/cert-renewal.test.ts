import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CertRenewal, loadPair, watchedDirectories } from '../../lib/master/services/cert-renewal.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import { cleanup, selfSignedCert, tempDir, waitFor } from '../support/harness.js';

const dir = tempDir('tsgund-pairs-');
after(() => cleanup([dir]));
const pair = (name: string) => {
  mkdirSync(join(dir, name));
  return selfSignedCert(join(dir, name));
};
const a = pair('a');
const b = pair('b');

function recordingLog(): ErrorLog & { lines: string[] } {
  const lines: string[] = [];
  const add = (m: string) => lines.push(m);
  return { lines, debug: add, info: add, warning: add, error: add, critical: add } as unknown as ErrorLog & {
    lines: string[];
  };
}

describe('certificate pairs', () => {
  it('loads a matching pair and says why another is refused', () => {
    const ok = loadPair(a.cert, a.key, false);
    assert.ok(typeof ok !== 'string' && /^[0-9A-F]+$/.test(ok.serial));
    assert.match(loadPair(a.cert, b.key, false) as string, /^keyfile ".*" does not match the certificate \(serial/);
    assert.match(
      loadPair(join(dir, 'none.pem'), a.key, false) as string,
      /^cannot read certfile ".*none\.pem": ENOENT/,
    );
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
    assert.match(loadPair(join(dir, 'junk.pem'), a.key, false) as string, /holds no PEM certificate/);
  });

  it('watches the directory of a symlink and of its target', () => {
    mkdirSync(join(dir, 'live'));
    symlinkSync(a.cert, join(dir, 'live', 'cert.pem'));
    assert.deepEqual(watchedDirectories(join(dir, 'live', 'cert.pem')), [join(dir, 'live'), join(dir, 'a')]);
  });

  it('sends the pair on USR1, a renewed pair once, retries a mismatch until its deadline, then keeps the old pair in one line', async () => {
    const live = join(dir, 'copy');
    mkdirSync(live);
    const [cert, key] = [join(live, 'cert.pem'), join(live, 'key.pem')];
    copyFileSync(a.cert, cert);
    copyFileSync(a.key, key);
    let now = 0;
    const sent: string[] = [];
    const log = recordingLog();
    const renewal = new CertRenewal(
      cert,
      key,
      log,
      (p) => sent.push(p.cert) && 2,
      () => now,
    );
    renewal.start();
    try {
      renewal.renew(); // USR1 with the pair unchanged: sent all the same, the operator asked
      await waitFor(() => sent.length === 1, 'the pair sent on USR1');
      copyFileSync(b.cert, cert); // the key comes later
      renewal.renew();
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(sent.length, 1, 'a mismatched pair is not sent while it is retried');
      copyFileSync(b.key, key);
      await waitFor(() => sent.length === 2, 'the renewed pair sent');
      assert.match(log.lines.join('\n'), /TLS certificate renewed: serial \w+, valid until .*; sent to 2 worker\(s\)/);
      copyFileSync(a.cert, cert);
      renewal.renew();
      // the clock runs 10 times faster than the timers: the 2 s of retries pass in 200 ms
      const fast = setInterval(() => (now += 100), 10);
      try {
        await waitFor(() => log.lines.some((l) => l.startsWith('TLS certificate not renewed')), 'the refusal');
      } finally {
        clearInterval(fast);
      }
      assert.match(log.lines.at(-1)!, /does not match the certificate .*; the current pair stays$/);
      assert.equal(sent.length, 2);
    } finally {
      renewal.close();
    }
  });
});
