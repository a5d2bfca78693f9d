// Request limits and timeouts (gunicorn's limit_request_* and worker_connections,
// Node's headersTimeout and requestTimeout), seen from a real client.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { FIXTURES, cleanup, request, startServer, waitFor } from '../support/harness.js';

after(() => cleanup());

/** Send raw bytes, return everything the server answered until it closed. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.setEncoding('utf8').on('data', (d: string) => (got += d));
    socket.on('close', () => resolve(got));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve('reset') : reject(err)));
  });
}

const headers = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));

describe('request limits and timeouts', () => {
  it('defaults: request line over 4094 bytes gets 414, over 100 header fields or 8190 header bytes gets 431', async () => {
    const { url } = await startServer();
    assert.equal((await request(`${url}/${'a'.repeat(4000)}`)).status, 200);
    assert.equal((await request(`${url}/${'a'.repeat(4100)}`)).status, 414);
    // the client adds Host and Connection: 98 + 2 fields is the limit
    assert.equal((await request(url, { headers: headers(98) })).status, 200);
    assert.equal((await request(url, { headers: headers(99) })).status, 431);
    assert.equal((await request(url, { headers: { 'x-big': 'b'.repeat(7000) } })).status, 200);
    assert.equal((await request(url, { headers: { 'x-big': 'b'.repeat(9000) } })).status, 431);
  });

  it('settings change the limits', async () => {
    const { url } = await startServer([
      '--limit-request-line',
      '0',
      '--limit-request-fields',
      '3',
      '--limit-request-field-size',
      '20000',
    ]);
    assert.equal((await request(`${url}/${'a'.repeat(6000)}`)).status, 200);
    assert.equal((await request(url, { headers: headers(1) })).status, 200);
    assert.equal((await request(url, { headers: headers(2) })).status, 431);
    assert.equal((await request(url, { headers: { 'x-big': 'b'.repeat(15000) } })).status, 200);
  });

  it('--headers-timeout and --request-timeout answer a slow client with 408', async () => {
    const { port } = await startServer(['--headers-timeout', '1', '--request-timeout', '2'], {
      app: join(FIXTURES, 'apps/read-body.cjs'),
    });
    const started = Date.now();
    assert.match(await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n'), /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 8000, 'headers timeout honoured within seconds');
    const body = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc';
    assert.match(await raw(port, body), /^HTTP\/1\.1 408/);
  });

  it('--worker-connections caps the open connections of a worker', async () => {
    const { port, url } = await startServer(['--worker-connections', '2']);
    const open = async () => {
      const s = net.connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      return s;
    };
    const [a, b] = [await open(), await open()];
    const third = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(third, /^(|reset)$/, 'a third connection is closed unanswered');
    a.destroy();
    b.destroy();
    // the worker sees the two closes shortly after
    await waitFor(async () => (await request(url)).status === 200, 'a free connection slot');
  });
});
