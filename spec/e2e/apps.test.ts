// Real third-party apps of every accepted shape, on real sockets: WebSockets
// (ws, socket.io, @fastify/websocket), a Hono fetch handler, and apps that
// call listen() themselves. Each test also proves that nothing listens beyond
// the configured bind (no node:cluster listener in the master).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { cli } from '../support/exec.js';
import {
  FIXTURES,
  ROOT,
  type Proc,
  cleanup,
  request,
  selfSignedCert,
  startServer,
  tempDir,
  waitFor,
  workersOf,
} from '../support/harness.js';
import { listeningAddresses } from '../support/listening.js';

const APPS = join(FIXTURES, 'apps');
const EXAMPLES = join(ROOT, 'examples');
const dirs: string[] = [];
after(() => cleanup(dirs));

function assertOnlyBind(proc: Proc, port: number): void {
  assert.deepEqual(listeningAddresses([proc.pid, ...workersOf(proc.pid)]), [`127.0.0.1:${port}`]);
}

interface Client {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  errors: Error[];
}

function connect(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const errors: Error[] = [];
    ws.on('error', (err) => errors.push(err));
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.once('open', () => resolve({ ws, closed, errors }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (data) => resolve(data.toString()));
    ws.send(text);
  });
}

describe('apps of every shape', () => {
  it('ws: an exported http.Server gets upgrades; HUP under 50 open sockets closes each one cleanly', async () => {
    const { proc, port } = await startServer(['-w', '2', '--graceful-timeout', '20'], {
      app: join(EXAMPLES, 'ws/app.js'),
    });
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(`ws://127.0.0.1:${port}/`)));
    assert.equal(await echo(clients[0]!.ws, 'hi'), 'hi');
    assertOnlyBind(proc, port);
    const hupAt = Date.now();
    proc.kill('SIGHUP');
    const closes = await Promise.all(clients.map((c) => c.closed));
    assert.ok(Date.now() - hupAt < 15_000, 'closed by the app, not by the graceful timeout');
    for (const [i, c] of closes.entries()) {
      assert.deepEqual(c, { code: 1001, reason: 'server restarting' }, `socket ${i}`);
      assert.deepEqual(clients[i]!.errors, [], `socket ${i} was not reset`);
    }
    await proc.line(/Reloaded: generation 2/, 20_000);
    const after = await connect(`ws://127.0.0.1:${port}/`);
    assert.equal(await echo(after.ws, 'again'), 'again');
    after.ws.close();
    assertOnlyBind(proc, port);
  });

  it('socket.io over the websocket transport', async () => {
    const { proc, port } = await startServer(['-w', '2'], { app: join(EXAMPLES, 'socket.io/app.js') });
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const reply = await socket.timeout(5000).emitWithAck('echo', 'ping');
      assert.equal(reply.msg, 'ping');
      assert.ok(workersOf(proc.pid).includes(reply.pid));
      assertOnlyBind(proc, port);
    } finally {
      socket.close();
    }
  });

  it('Fastify with @fastify/websocket; app.close() runs its onClose hooks in the worker on TERM', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const marker = join(dir, 'closed.txt');
    writeFileSync(marker, '');
    const { proc, port, url } = await startServer([], {
      app: join(APPS, 'fastify-ws.js'),
      env: { ...process.env, MARKER: marker },
    });
    assert.match((await request(url)).body, /^fastify \d+/);
    const client = await connect(`ws://127.0.0.1:${port}/ws`);
    assert.equal(await echo(client.ws, 'x'), 'echo x');
    client.ws.close();
    await client.closed;
    assertOnlyBind(proc, port);
    const [worker] = workersOf(proc.pid);
    proc.kill('SIGTERM');
    assert.equal((await proc.exit).code, 0);
    assert.equal(readFileSync(marker, 'utf8'), `onClose ${worker}\n`);
  });

  it('Hono: a failing stream ends that response, not the worker; connection info works', async () => {
    const { proc, port, url } = await startServer([], { app: join(APPS, 'hono-stream.js') });
    const [worker] = workersOf(proc.pid);
    assert.equal((await request(`${url}/conn`)).body, '127.0.0.1\n');
    // a body stream that errors: the response is cut, so the client cannot take it as complete
    await assert.rejects(request(`${url}/fail-body`), /aborted|socket hang up|ECONNRESET/);
    // Hono's stream() helper catches its callback's error itself and ends the stream
    assert.equal((await request(`${url}/fail`)).body, 'first chunk\n');
    assert.match((await request(url)).body, new RegExp(`^hono ${worker}`));
    assert.deepEqual(workersOf(proc.pid), [worker]);
    assertOnlyBind(proc, port);
  });

  it('an http2 secure server and a net.Server are listened on the bind as exported', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { cert, key } = selfSignedCert(dir);
    const h2 = await startServer([], {
      app: join(APPS, 'http2-server.js'),
      env: { ...process.env, CERT: cert, KEY: key },
    });
    const session = http2.connect(`https://127.0.0.1:${h2.port}`, { rejectUnauthorized: false });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/two' });
      let text = '';
      req.setEncoding('utf8').on('data', (d: string) => (text += d));
      req.on('end', () => resolve(text));
      req.on('error', reject);
    });
    assert.match(body, /^h2 \/two \d+/);
    assertOnlyBind(h2.proc, h2.port);
    // an open HTTP/2 session is closed by the app on drain, so TERM finishes at once
    const goaway = new Promise((resolve) => session.once('goaway', resolve));
    h2.proc.kill('SIGTERM');
    await goaway;
    session.close();
    assert.equal((await h2.proc.exit).code, 0);

    const tcp = await startServer([], { app: join(APPS, 'net-echo.js') });
    const echoed = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(tcp.port, '127.0.0.1', () => socket.end('raw bytes\n'));
      let text = '';
      socket.setEncoding('utf8').on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.equal(echoed, 'raw bytes\n');
    assertOnlyBind(tcp.proc, tcp.port);
  });

  it('an Express app that only calls app.listen(process.env.PORT || 3000) runs unchanged in every worker', async () => {
    const { proc, port, url } = await startServer(['-w', '2'], { app: join(EXAMPLES, 'listen/app.js') });
    await waitFor(() => proc.count(new RegExp(`listening on ${port}$`)) === 2, 'both listen callbacks');
    assert.match((await request(url)).body, /^hello from \d+/);
    assertOnlyBind(proc, port);
  });

  it('--preload: the listen() of an app loaded in the master is ignored there', async () => {
    const { proc, port, url } = await startServer(['--preload'], { app: join(EXAMPLES, 'listen/app.js') });
    assert.match((await request(url)).body, /^hello from \d+/);
    assertOnlyBind(proc, port);
    const r = await cli(['check-config', join(EXAMPLES, 'listen/app.js'), '-b', `127.0.0.1:${port}`]);
    assert.equal(r.code, 0, r.stderr);
  });

  it('an app that exports and listens is served once; a late listen() is waited for', async () => {
    for (const app of ['export-and-listen.js', 'late-listen.cjs']) {
      const { proc, port, url } = await startServer([], { app: join(APPS, app) });
      assert.match((await request(url)).body, /^(both|late) \d+/);
      assertOnlyBind(proc, port);
      proc.kill('SIGQUIT');
      await proc.exit;
    }
  });

  it('a listen() on a unix bind path is served from that bind', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const sock = join(dir, 'app.sock');
    const { proc } = await startServer(['-b', `unix:${sock}`], {
      app: join(APPS, 'listen-on.cjs'),
      env: { ...process.env, LISTEN_ON: sock },
    });
    assert.match((await request('http://x/', { socketPath: sock })).body, /^listened \d+/);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('a listen() that matches no bind, or a module that serves nothing, is a one-line error, exit 4', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const cases = [
      {
        on: '0',
        message:
          /listen\(\) on port 0, which is not one of tsgund's binds \(127\.0\.0\.1:\d+\); listen on process\.env\.PORT \(\d+\)/,
      },
      { on: '3999', message: /listen\(\) on port 3999, which is not one of tsgund's binds/ },
      { on: join(dir, 'other.sock'), message: /listen\(\) on unix:.*other\.sock, which is not one of tsgund's binds/ },
    ];
    for (const c of cases) {
      const r = await cli(['start', join(APPS, 'listen-on.cjs'), '-b', '127.0.0.1:0'], {
        env: { ...process.env, LISTEN_ON: c.on, WEB_CONCURRENCY: '' },
      });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, c.message);
      assert.equal(r.stderr.trim().split('\n').at(-1)!.startsWith('tsgund: '), true, r.stderr);
    }
    const r = await cli(['start', join(APPS, 'nothing.cjs'), '-b', '127.0.0.1:0', '--boot-timeout', '2']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      /exports no handler and did not call listen\(\) within the boot timeout \(2 s\); export a request listener/,
    );
  });
});
