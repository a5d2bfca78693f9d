// --http2: h2 and HTTP/1.1 on one port (ALPN over TLS, the preface in
// cleartext), the Express notice, HTTP/2 drained across reloads with GOAWAY,
// the abuse limits, and ws and socket.io over TLS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { h2Load, h2get } from '../support/h2-client.js';
import {
  FIXTURES,
  HELLO,
  ROOT,
  cleanup,
  freePort,
  request,
  run,
  selfSignedCert,
  startServer,
  tempDir,
  waitFor,
  workersOf,
} from '../support/harness.js';

const dir = tempDir('tsgund-h2-');
const { cert, key } = selfSignedCert(dir);
const TLS = ['--http2', '--certfile', cert, '--keyfile', key];
after(() => cleanup([dir]));

const httpsUrl = (port: number) => `https://127.0.0.1:${port}`;

/** The protocol ALPN picks when a client offers h2 and http/1.1. */
function negotiated(port: number): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      port,
      host: '127.0.0.1',
      ALPNProtocols: ['h2', 'http/1.1'],
      rejectUnauthorized: false,
    });
    socket.on('secureConnect', () => {
      resolve(socket.alpnProtocol ?? false);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

/**
 * Sends the preface and 300 SETTINGS and PING frames at once over TLS, and
 * resolves with the error code of the GOAWAY the server answers (-1: none).
 */
function controlFlood(port: number): Promise<number> {
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const ping = Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const frames = Array.from({ length: 150 }, () => [settings, ping]).flat();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false });
    let got = Buffer.alloc(0);
    socket.on('secureConnect', () =>
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), ...frames])),
    );
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      for (let at = 0; at + 9 <= got.length; at += 9 + got.readUIntBE(at, 3)) {
        if (got[at + 3] === 7 && at + 17 <= got.length) {
          resolve(got.readUInt32BE(at + 13));
          socket.destroy();
          return;
        }
      }
    });
    socket.on('close', () => resolve(-1));
    socket.on('error', reject);
  });
}

/** A GET over HTTPS/1.1. */
function https1(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(`${res.httpVersion} ${res.statusCode} ${body}`));
      })
      .on('error', reject);
  });
}

describe('--http2', () => {
  it('over TLS offers h2 and http/1.1 on one port, announces its limits but not extended CONNECT, and logs h2 lines', async () => {
    const log = join(dir, 'access.log');
    const stats = await freePort();
    const { proc, port } = await startServer([...TLS, '--access-logfile', log, '--stats-bind', `127.0.0.1:${stats}`]);
    await proc.line(new RegExp(`Listening at: https://127\\.0\\.0\\.1:${port} \\(h2, http/1\\.1\\)`));
    assert.equal(await negotiated(port), 'h2');
    const reply = await h2get(httpsUrl(port));
    assert.match(reply.body, /^hello from \d+\n$/);
    assert.equal(reply.settings.maxConcurrentStreams, 100);
    assert.notEqual(reply.settings.enableConnectProtocol, true);
    assert.match(await https1(port), /^1\.1 200 hello from \d+\n$/);
    const line = await waitFor(
      () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .find((l) => l.includes('HTTP/2.0')),
      'an HTTP/2 access-log line',
    );
    assert.match(line, new RegExp(`^127\\.0\\.0\\.1 - - \\[.*\\] "GET / HTTP/2\\.0" 200 ${reply.body.length} `));
    // request metrics per protocol, from the heartbeats
    const metrics = () => request(`http://127.0.0.1:${stats}/metrics`).then((r) => r.body);
    await waitFor(async () => {
      const text = await metrics();
      return (
        /tsgund_http_requests_by_protocol_total\{protocol="http2"\} 1\n/.test(text) &&
        /tsgund_http_requests_by_protocol_total\{protocol="http1"\} 1\n/.test(text)
      );
    }, 'one request per protocol in /metrics');
  });

  it('in cleartext serves HTTP/1.1 and h2c with prior knowledge on one port, a fetch handler included; Upgrade: h2c stays HTTP/1.1', async () => {
    const { url } = await startServer(['--http2'], { app: join(FIXTURES, 'apps/fetch-pid.js') });
    assert.match((await h2get(url)).body, /^fetch \d+\n$/);
    assert.match((await request(url)).body, /^fetch \d+\n$/);
    const upgrade = await request(url, {
      headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' },
    });
    assert.equal(upgrade.status, 200);
    assert.match(upgrade.body, /^fetch \d+\n$/);
  });

  it('offers an Express app http/1.1 only, with one line saying why', async () => {
    const { proc, port } = await startServer(TLS, { app: join(ROOT, 'examples/express/app.js') });
    await proc.line(/http2: the app \(Express\) sets its own request prototype/);
    assert.equal(await negotiated(port), 'http/1.1');
    assert.match(await https1(port), /^1\.1 200 hello from express/);
  });

  it('refuses sticky placement with cleartext h2 in one line', async () => {
    const proc = run(['start', HELLO, '-b', `127.0.0.1:${await freePort()}`, '--http2', '--sticky', 'forwarded']);
    assert.equal((await proc.exit).code, 1);
    assert.match(proc.output, /setting 'sticky' is "forwarded" with 'http2' on and no certfile/);
    assert.equal(proc.lines.filter((l) => l.trim()).length, 1, proc.output);
  });

  it('drains HTTP/2 across 2 HUPs under 50 sessions x 10 streams: 0 failed, GOAWAY on every old session, new pids within 1 s', async (t) => {
    const { proc, port } = await startServer([...TLS, '-w', '1']);
    const load = h2Load(httpsUrl(port), 50, 10);
    const drained = new Set<number>();
    try {
      for (const generation of [2, 3]) {
        const old = workersOf(proc.pid);
        for (const pid of old) drained.add(pid);
        const from = proc.lines.length;
        await waitFor(() => load.answers.length > 200 * (generation - 1), 'answers before the HUP');
        proc.kill('SIGHUP');
        await proc.line(new RegExp(`Reloaded: generation ${generation}`), 20_000, from);
        const reloadedAt = Date.now();
        await waitFor(() => load.answers.some((a) => a.at > reloadedAt + 1500), 'answers 1.5 s after the reload');
        const late = load.answers.filter((a) => a.at > reloadedAt + 1000);
        assert.ok(late.length > 0);
        assert.deepEqual(
          late.filter((a) => old.includes(a.pid)),
          [],
          'no answer from the old generation 1 s after',
        );
      }
    } finally {
      await load.stop();
    }
    t.diagnostic(`${load.answers.length} streams answered, ${load.refused} refused unprocessed and sent again`);
    assert.deepEqual(load.failures, [], `failed streams (${load.refused} refused and sent again)`);
    // every session an old worker served was told to go away before it ended (a lane that was between
    // sessions at a HUP has nothing to be told, so the count of GOAWAYs is not a fixed 50 per HUP)
    const untold = load.sessions.filter((s) => [...s.pids].some((pid) => drained.has(pid)) && !s.told.length);
    assert.equal(untold.length, 0, `${untold.length} sessions of drained workers were never told to go away`);
    assert.ok(load.goaways.length >= 50, `${load.goaways.length} sessions told to go away`);
    for (const told of load.goaways) assert.equal(told[0], 2 ** 31 - 1);
  });

  it('ends a rapid-reset session while a parallel client keeps being served', async () => {
    const { port } = await startServer([...TLS, '-w', '1']);
    const url = httpsUrl(port);
    const script = pathToFileURL(join(ROOT, 'scripts/soak/h2-rapid-reset.mjs')).href;
    const flood = (await import(script)) as RapidResetScript;
    const stop = { done: false };
    const steady = flood.steadyClient(url, '/', stop);
    // a sustained flood in raw frames (Node 22's client sends nothing for a stream reset at once): each session the server ends is replaced, for 3 s
    const attacks: { ended: boolean; opened: number }[] = [];
    for (const until = Date.now() + 3000; Date.now() < until; )
      attacks.push(await flood.rawRapidReset({ url, rate: 10_000, seconds: (until - Date.now()) / 1000 }));
    stop.done = true;
    const served = await steady;
    const ended = attacks.filter((a) => a.ended).length;
    assert.ok(ended >= attacks.length - 1, `${ended} of ${attacks.length} flooding sessions ended by the server`);
    assert.ok(ended >= 1);
    assert.equal(served.failed, 0);
    assert.ok(served.latencies.length >= 10, `${served.latencies.length} parallel requests served in 3 s`);
    assert.match((await h2get(url)).body, /^hello from/);
  });

  it('ends a session without a HEADERS frame at headersTimeout, and one that floods SETTINGS with GOAWAY', async () => {
    const { port } = await startServer([...TLS, '--headers-timeout', '1']);
    const idle = http2.connect(httpsUrl(port), { rejectUnauthorized: false });
    idle.on('error', () => {});
    const t0 = Date.now();
    await new Promise((resolve) => idle.once('close', resolve));
    assert.ok(Date.now() - t0 < 2500, `closed after ${Date.now() - t0} ms`);
    // raw frames: Node's client refuses to send SETTINGS faster than they are acknowledged
    assert.equal(await controlFlood(port), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  });

  it('keeps ws and socket.io working over TLS on an exported http2 server', async () => {
    const { proc, port } = await startServer(['--http2'], {
      app: join(FIXTURES, 'apps/h2-ws-io.js'),
      env: { CERT: cert, KEY: key },
    });
    await proc.line(new RegExp(`Serving the app's own TLS server at: https://127\\.0\\.0\\.1:${port}$`));
    assert.match((await h2get(httpsUrl(port))).body, /^h2-ws-io \d+/);
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, { rejectUnauthorized: false });
    const echoed = new Promise<string>((resolve, reject) => {
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    ws.once('open', () => ws.send('ping'));
    assert.match(await echoed, /^ping \d+$/);
    ws.close();
    const socket = io(httpsUrl(port), { transports: ['websocket'], rejectUnauthorized: false, reconnection: false });
    try {
      const reply = (await socket.timeout(5000).emitWithAck('echo', 'hi')) as { msg: string };
      assert.equal(reply.msg, 'hi');
    } finally {
      socket.close();
    }
  });
});

describe('an exported http2 server', () => {
  it('is drained with GOAWAY on HUP, and its worker leaves long before gracefulTimeout', async () => {
    const { proc, port } = await startServer(['--graceful-timeout', '20'], {
      app: join(FIXTURES, 'apps/h2-ws-io.js'),
      env: { CERT: cert, KEY: key },
    });
    const [old] = workersOf(proc.pid);
    const session = http2.connect(httpsUrl(port), { rejectUnauthorized: false });
    session.on('error', () => {});
    const told: number[] = [];
    session.on('goaway', (_code, last) => told.push(last));
    const closed = new Promise((resolve) => session.once('close', resolve));
    await new Promise<void>((resolve, reject) => {
      const s = session.request({ ':path': '/' });
      s.on('data', () => {});
      s.on('end', resolve);
      s.on('error', reject);
      s.end();
    });
    const t0 = Date.now();
    proc.kill('SIGHUP');
    await proc.line(new RegExp(`Worker exiting \\(pid: ${old}\\)`), 15_000);
    await closed;
    assert.equal(told[0], 2 ** 31 - 1);
    assert.ok(Date.now() - t0 < 10_000, `the old worker left after ${Date.now() - t0} ms`);
  });
});

interface RapidResetScript {
  rawRapidReset(o: { url: string; rate: number; seconds: number }): Promise<{ ended: boolean; opened: number }>;
  steadyClient(url: string, path: string, stop: { done: boolean }): Promise<{ latencies: number[]; failed: number }>;
}
