import assert from 'node:assert/strict';
import type http2 from 'node:http2';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { h2Options, createH2Server, overridesHttp1Prototypes } from '../../lib/worker/h2-server.js';
import { listenerUrl, protocolsOf } from '../../lib/listeners/listener-url.js';
import { h2get } from '../support/h2-client.js';

// Express ships no types of its own
const express = createRequire(import.meta.url)('express') as () => unknown;

const settings = {
  keepAlive: 5,
  limitRequestFields: 100,
  limitRequestFieldSize: 8190,
  headersTimeout: 60,
  requestTimeout: 300,
  http2MaxConcurrentStreams: 100,
  http2StreamResetBurst: 1000,
  http2StreamResetRate: 33,
  http2MaxSessionInvalidFrames: 100,
  http2MaxControlFrames: 100,
};

describe('HTTP/2 options', () => {
  it('map the settings to Node options, header lists no larger than the HTTP/1.1 limits, no extended CONNECT', () => {
    const o = h2Options(settings) as http2.ServerOptions & Record<string, unknown>;
    assert.equal(o.settings?.maxConcurrentStreams, 100);
    assert.equal(o.settings?.enableConnectProtocol, false);
    assert.equal(o.maxHeaderListPairs, 104, 'the fields and four pseudo-headers');
    assert.equal(o.settings?.maxHeaderListSize, 8190 + 32 * 104);
    assert.deepEqual([o.streamResetBurst, o.streamResetRate, o.maxSessionInvalidFrames], [1000, 33, 100]);
    assert.equal(h2Options({ ...settings, limitRequestFields: 0 }).maxHeaderListPairs, 128, "no limit: Node's default");
  });

  it('tell an Express app (its own request prototype over http.IncomingMessage) from other listeners', () => {
    assert.equal(overridesHttp1Prototypes(express()), true);
    assert.equal(
      overridesHttp1Prototypes((_req: unknown, _res: unknown) => {}),
      false,
    );
    assert.equal(overridesHttp1Prototypes(Object.assign(() => {}, { request: {} })), false);
    assert.equal(overridesHttp1Prototypes(null), false);
  });

  it('show the protocols in listener URLs only with --http2', () => {
    assert.equal(protocolsOf({ http2: false, certfile: 'c.pem' }), null);
    assert.equal(protocolsOf({ http2: true, certfile: 'c.pem' }), 'h2, http/1.1');
    assert.equal(protocolsOf({ http2: true, certfile: null }), 'h2c, http/1.1');
    const l = { label: '127.0.0.1:0', address: { kind: 'tcp', port: 8443 } } as Parameters<typeof listenerUrl>[0];
    assert.equal(listenerUrl(l, true, 'h2, http/1.1'), 'https://127.0.0.1:8443 (h2, http/1.1)');
    assert.equal(listenerUrl(l, false), 'http://127.0.0.1:8443');
  });
});

describe('cleartext HTTP/1.1 and h2c on one port', () => {
  const server = createH2Server({ ...settings, headersTimeout: 1 }, null);
  server.on('request', (req: { httpVersion: string }, res: { end(s: string): void }) => res.end(req.httpVersion));
  const listening = new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
  after(() => server.close());

  const raw = async (bytes: string): Promise<{ data: string; closedAfterMs: number }> => {
    const port = await listening;
    const t0 = Date.now();
    return new Promise((resolve) => {
      let data = '';
      const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        data += d;
        if (data.includes('\r\n\r\n') && bytes.startsWith('GET')) s.destroy();
      });
      s.on('close', () => resolve({ data, closedAfterMs: Date.now() - t0 }));
      s.on('error', () => {});
    });
  };

  it('answers HTTP/1.1 that the first byte told apart', async () => {
    const { data } = await raw('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(data, /^HTTP\/1\.1 200 OK/);
  });

  it('answers h2c with prior knowledge', async () => {
    const { body } = await h2get(`http://127.0.0.1:${await listening}`);
    assert.equal(body, '2.0');
  });

  it('closes a connection that stalls inside the preface at headersTimeout', async () => {
    const { data, closedAfterMs } = await raw('PRI * HTTP/2.0\r\n');
    assert.equal(data, '');
    assert.ok(closedAfterMs >= 900 && closedAfterMs < 2500, `closed after ${closedAfterMs} ms`);
  });
});
