import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FIXTURES,
  cleanup,
  freePort,
  request,
  run,
  selfSignedCert,
  startServer,
  tempDir,
  waitFor,
} from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

describe('serving options', () => {
  it('--certfile/--keyfile serve HTTPS', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { cert, key } = selfSignedCert(dir);
    const { proc, port } = await startServer(['-w', '1', '--certfile', cert, '--keyfile', key]);
    assert.match(proc.output, /Listening at: https:\/\/127.0.0.1:/);
    const body = await new Promise<string>((res, rej) => {
      https
        .get(
          {
            host: '127.0.0.1',
            port,
            path: '/',
            ca: readFileSync(cert),
            servername: 'localhost',
            rejectUnauthorized: false,
          },
          (r) => {
            let b = '';
            r.on('data', (d: Buffer) => (b += d));
            r.on('end', () => res(b));
          },
        )
        .on('error', rej);
    });
    assert.match(body, /^hello from \d+/);
    proc.kill('SIGQUIT');
    await proc.exit;
    const half = run(['start', 'app.js', '--certfile', cert]);
    assert.equal((await half.exit).code, 1);
    assert.match(half.output, /settings 'certfile' and 'keyfile' go together/);
  });

  it('a graceful stop over HTTPS lets the request in flight finish', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { cert, key } = selfSignedCert(dir);
    const mark = join(dir, 'in-flight');
    const app = join(dir, 'app.cjs');
    // the mark tells the test that the request reached the app
    writeFileSync(
      app,
      `module.exports = (req, res) => { require('node:fs').writeFileSync(${JSON.stringify(mark)}, ''); setTimeout(() => res.end('done'), 800); };\n`,
    );
    const { proc, port } = await startServer(['-w', '1', '--certfile', cert, '--keyfile', key], { app });
    const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
    const reply = new Promise<{ status: number | undefined; connection: string | undefined; body: string }>(
      (res, rej) => {
        https
          .get({ host: '127.0.0.1', port, path: '/', agent }, (r) => {
            let b = '';
            r.on('data', (d: Buffer) => (b += d));
            r.on('end', () => res({ status: r.statusCode, connection: r.headers.connection, body: b }));
          })
          .on('error', rej);
      },
    );
    await waitFor(() => existsSync(mark), 'the request in flight');
    proc.kill('SIGTERM');
    // the drain found the request on its TLS socket: the answer closes the connection, so the worker
    // need not wait out the graceful timeout for an idle keep-alive connection
    assert.deepEqual(await reply, { status: 200, connection: 'close', body: 'done' });
    assert.deepEqual(await proc.exit, { code: 0, signal: null });
    agent.destroy();
  });

  it('forwardedAllowIps: X-Forwarded-* headers reach the app only from trusted proxies', async () => {
    const app = join(FIXTURES, 'headers-app.js');
    const headers = { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', forwarded: 'for=203.0.113.9' };
    const trusted = await startServer(['-w', '1'], { app });
    const seen = JSON.parse((await request(trusted.url + '/', { headers })).body) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '203.0.113.9');
    const untrusted = await startServer(['-w', '1', '--forwarded-allow-ips', '192.0.2.1'], { app });
    const stripped = JSON.parse((await request(untrusted.url + '/', { headers })).body) as Record<string, string>;
    assert.equal(stripped['x-forwarded-for'], undefined);
    assert.equal(stripped['x-forwarded-proto'], undefined);
    assert.equal(stripped.forwarded, undefined);
    for (const s of [trusted, untrusted]) {
      s.proc.kill('SIGQUIT');
      await s.proc.exit;
    }
  });

  it('--keep-alive 0 closes every connection after its response', async () => {
    const { proc, url } = await startServer(['-w', '1', '--keep-alive', '0']);
    const reply = await request(url + '/', { headers: { connection: 'keep-alive' } });
    assert.equal(reply.headers.connection, 'close');
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('--max-memory recycles a worker over the limit gracefully', async () => {
    const { proc, url } = await startServer(['-w', '1', '--max-memory', '1']);
    await proc.line(/uses \d+ MiB \(limit 1 MiB\), recycling it/, 10_000);
    assert.equal((await request(url + '/')).status, 200);
    proc.kill('SIGQUIT');
    await proc.exit;
  });

  it('--capture-output sends what the app prints to the error log; --log-format json', async () => {
    const dir = tempDir();
    dirs.push(dir);
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(
      join(dir, 'noisy.js'),
      "console.log('printed by the app'); export default (req, res) => res.end('ok');\n",
    );
    const errorLog = join(dir, 'error.log');
    const port = await freePort();
    const proc = run([
      'start',
      join(dir, 'noisy.js'),
      '-w',
      '1',
      '-b',
      `127.0.0.1:${port}`,
      '--capture-output',
      '--log-format',
      'json',
      '--error-logfile',
      errorLog,
    ]);
    await waitFor(() => readFileSync(errorLog, 'utf8').includes('printed by the app'), 'captured line', 10_000);
    const lines = readFileSync(errorLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; pid: number });
    const captured = lines.find((l) => l.msg === 'printed by the app')!;
    assert.equal(captured.level, 'info');
    assert.notEqual(captured.pid, proc.pid, 'logged by the worker');
    proc.kill('SIGQUIT');
    await proc.exit;
  });
});
