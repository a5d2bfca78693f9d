import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURES, cleanup, run, selfSignedCert, startServer, tempDir } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const APP = join(FIXTURES, 'forwarded-app.js');
const SPOOFED = [
  'X-Forwarded-For: 203.0.113.9',
  'x-forwarded-for: 198.51.100.1',
  'X-FORWARDED-PROTO: https',
  'X-Forwarded-Host: evil.example',
  'X-Forwarded-Port: 443',
  'Forwarded: for=203.0.113.9;proto=https',
  'X-Real-IP: 203.0.113.9',
];
const FORWARDING = /^(forwarded|x-forwarded-(for|proto|host|port)|x-real-ip)$/i;

interface Seen {
  distinct: Record<string, string[]>;
  headers: Record<string, string>;
  raw: string[];
}

/** One request written byte for byte, so header case and duplicates are exactly what a client sent. */
function rawRequest(port: number): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () =>
      sock.write(
        ['GET / HTTP/1.1', 'Host: app.example', 'User-Agent: spoof', ...SPOOFED, 'Connection: close', '', ''].join(
          '\r\n',
        ),
      ),
    );
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('end', () => {
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      try {
        resolve(JSON.parse(body) as Seen);
      } catch {
        reject(new Error(`not JSON: ${text}`));
      }
    });
    sock.on('error', reject);
  });
}

/** Write `text` on a raw connection and return the JSON after the reply's header block. */
function rawExchange(port: number, text: string): Promise<{ head: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (got += d));
    sock.on('end', () => {
      const split = got.indexOf('\r\n\r\n');
      try {
        resolve({ head: got.slice(0, split), body: JSON.parse(got.slice(split + 4)) as Record<string, unknown> });
      } catch {
        reject(new Error(`not JSON: ${got}`));
      }
    });
    sock.on('error', reject);
  });
}

const forwardingNames = (s: Seen): string[] => [
  ...Object.keys(s.headers).filter((k) => FORWARDING.test(k)),
  ...Object.keys(s.distinct).filter((k) => FORWARDING.test(k)),
  ...s.raw.filter((v, i) => i % 2 === 0 && FORWARDING.test(v)),
];

describe('forwardedAllowIps', () => {
  it('from an untrusted peer, no view of the request keeps a forwarding header', async () => {
    const { proc, port } = await startServer(['-w', '1', '--forwarded-allow-ips', '192.0.2.0/24,2001:db8::/32'], {
      app: APP,
    });
    const seen = await rawRequest(port);
    assert.deepEqual(forwardingNames(seen), []);
    // everything else is intact, in every view
    assert.equal(seen.headers['user-agent'], 'spoof');
    assert.deepEqual(seen.distinct.host, ['app.example']);
    assert.deepEqual(seen.raw, ['Host', 'app.example', 'User-Agent', 'spoof', 'Connection', 'close']);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('a trusted proxy, matched by CIDR, passes them all through', async () => {
    const { proc, port } = await startServer(['-w', '1', '--forwarded-allow-ips', '10.0.0.0/8, 127.0.0.0/8'], {
      app: APP,
    });
    const seen = await rawRequest(port);
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 198.51.100.1');
    assert.deepEqual(seen.distinct['x-forwarded-for'], ['203.0.113.9', '198.51.100.1']);
    assert.equal(seen.headers['x-real-ip'], '203.0.113.9');
    assert.equal(seen.raw.filter((v, i) => i % 2 === 0 && FORWARDING.test(v)).length, SPOOFED.length);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('upgrade and CONNECT requests, and trailers, from an untrusted peer lose them too', async () => {
    const { proc, port } = await startServer(['-w', '1', '--forwarded-allow-ips', '192.0.2.0/24'], {
      app: join(FIXTURES, 'forwarded-events.js'),
    });
    const upgrade = await rawExchange(
      port,
      ['GET /ws HTTP/1.1', 'Host: app.example', 'Upgrade: echo', 'Connection: Upgrade', ...SPOOFED, '', ''].join(
        '\r\n',
      ),
    );
    assert.match(upgrade.head, /^HTTP\/1\.1 101 /);
    assert.deepEqual(forwardingNames(upgrade.body as unknown as Seen), []);
    assert.deepEqual((upgrade.body as unknown as Seen).headers.upgrade, 'echo');

    const connect = await rawExchange(
      port,
      ['CONNECT backend.example:443 HTTP/1.1', 'Host: backend.example:443', ...SPOOFED, '', ''].join('\r\n'),
    );
    assert.match(connect.head, /^HTTP\/1\.1 200 /);
    assert.deepEqual(forwardingNames(connect.body as unknown as Seen), []);
    assert.equal((connect.body as unknown as Seen).headers.host, 'backend.example:443');

    const chunked = await rawExchange(
      port,
      [
        'POST /upload HTTP/1.1',
        'Host: app.example',
        'Transfer-Encoding: chunked',
        'Connection: close',
        '',
        '3',
        'abc',
        '0',
        ...SPOOFED,
        'X-Checksum: 900150983cd24fb0',
        '',
        '',
      ].join('\r\n'),
    );
    const { trailers, trailersDistinct, rawTrailers } = chunked.body as Record<string, Record<string, unknown>>;
    assert.deepEqual(trailers, { 'x-checksum': '900150983cd24fb0' });
    assert.deepEqual(trailersDistinct, { 'x-checksum': ['900150983cd24fb0'] });
    assert.deepEqual(rawTrailers, ['X-Checksum', '900150983cd24fb0']);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('a trusted proxy keeps them on upgrades and in trailers', async () => {
    const { proc, port } = await startServer(['-w', '1', '--forwarded-allow-ips', '127.0.0.1'], {
      app: join(FIXTURES, 'forwarded-events.js'),
    });
    const upgrade = await rawExchange(
      port,
      ['GET /ws HTTP/1.1', 'Host: a', 'Upgrade: echo', 'Connection: Upgrade', 'X-Real-IP: 203.0.113.9', '', ''].join(
        '\r\n',
      ),
    );
    assert.equal((upgrade.body as unknown as Seen).headers['x-real-ip'], '203.0.113.9');
    const chunked = await rawExchange(
      port,
      [
        'POST / HTTP/1.1',
        'Host: a',
        'Transfer-Encoding: chunked',
        'Connection: close',
        '',
        '0',
        'Forwarded: for=x',
        '',
        '',
      ].join('\r\n'),
    );
    assert.deepEqual(chunked.body.rawTrailers, ['Forwarded', 'for=x']);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it("an exported HTTP/2 server's requests and trailers are filtered too", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { cert, key } = selfSignedCert(dir);
    const { proc, port } = await startServer(['-w', '1', '--forwarded-allow-ips', '192.0.2.1'], {
      app: join(FIXTURES, 'forwarded-http2.js'),
      env: { ...process.env, CERT: cert, KEY: key },
    });
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    type Seen2 = { headers: Record<string, string>; raw: string[]; trailers: object; rawTrailers: string[] };
    const seen = await new Promise<Seen2>((resolve, reject) => {
      const req = session.request(
        {
          ':path': '/',
          ':method': 'POST',
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          forwarded: 'for=203.0.113.9',
          'x-real-ip': '203.0.113.9',
          'x-kept': 'yes',
        },
        { waitForTrailers: true },
      );
      req.on('wantTrailers', () =>
        req.sendTrailers({ 'x-forwarded-for': '203.0.113.9', forwarded: 'proto=https', 'x-checksum': 'abc' }),
      );
      req.end('body');
      let text = '';
      req.setEncoding('utf8').on('data', (d: string) => (text += d));
      req.on('end', () => resolve(JSON.parse(text)));
      req.on('error', reject);
    });
    session.close();
    assert.deepEqual(forwardingNames({ ...seen, distinct: {} }), []);
    assert.equal(seen.headers['x-kept'], 'yes');
    assert.ok(seen.raw.includes('x-kept'));
    assert.deepEqual(seen.trailers, { 'x-checksum': 'abc' });
    assert.deepEqual(seen.rawTrailers, ['x-checksum', 'abc']);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('an invalid entry is a one-line error naming the setting and the value', { timeout: 60_000 }, async () => {
    for (const bad of ['10.0.0.0/33', 'proxy.example']) {
      const proc = run(['start', APP, '--forwarded-allow-ips', `127.0.0.1,${bad}`]);
      assert.equal((await proc.exit).code, 1);
      assert.equal(
        proc.output,
        `tsgund: setting 'forwardedAllowIps' has "${bad}", expected '*', an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8`,
      );
    }
  });
});
