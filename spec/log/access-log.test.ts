import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createAccessLog,
  DEFAULT_ACCESS_LOG_FORMAT,
  validateAccessLogFormat,
  type AccessLog,
} from '../../lib/log/access-log.js';

import { lines, logScratch } from '../support/log-files.js';

const { freshPath } = logScratch('access');

const ALL_ATOMS = ['h', 'l', 'u', 't', 'r', 's', 'm', 'U', 'q', 'H', 'b', 'B', 'f', 'a', 'T', 'M', 'D', 'L', 'p'];
const ENV_VAR = 'TSGUND_ACCESS_LOG_TEST';
const FORMAT = [
  ...ALL_ATOMS.map((a) => `%(${a})s`),
  '%({x-in}i)s',
  '%({X-Out}o)s',
  '%({x-head}o)s',
  `%({${ENV_VAR}}e)s`,
  '%({x-absent}i)s',
  '100%%',
].join('\t');
const FIELDS = [...ALL_ATOMS, 'x-in', 'x-out', 'x-head', 'env', 'absent', 'percent'];

/** A real server whose handler does what the worker does: track each request before the app sees it. */
function serve(getLog: () => AccessLog): http.Server {
  return http.createServer((req, res) => {
    getLog().track(req, res);
    const url = req.url ?? '';
    if (url.startsWith('/chunked')) {
      res.statusCode = 201;
      res.setHeader('X-Out', 'out-value');
      res.write('hello');
      setTimeout(() => res.end(Buffer.from(' wörld')), 30);
    } else if (url.startsWith('/write-head')) {
      res.writeHead(202, 'Fine', { 'Content-Length': 3, 'X-Head': 'from writeHead' });
      res.end('abc');
    } else {
      res.end();
    }
  });
}

function request(port: number, urlPath: string, headers: http.OutgoingHttpHeaders = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

describe('access log atoms against a real server', () => {
  let server: http.Server;
  let port: number;
  let log: AccessLog;

  before(async () => {
    server = serve(() => log);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function logged(format: string, urlPath: string, headers?: http.OutgoingHttpHeaders): Promise<string> {
    const file = freshPath();
    log = createAccessLog({ accesslog: file, accessLogFormat: format });
    await request(port, urlPath, headers);
    await log.close();
    const out = lines(file);
    assert.equal(out.length, 1);
    return out[0];
  }

  it('prints every atom', async () => {
    process.env[ENV_VAR] = 'env-value';
    const before = Date.now();
    const line = await logged(FORMAT, '/chunked/p%20ath?x=1&y=%22', {
      Referer: 'http://example.com/from',
      'User-Agent': 'curl/8 "quoted" \\ back',
      Authorization: `Basic ${Buffer.from('alice:s3cr:et').toString('base64')}`,
      'X-In': 'in-value',
    });
    delete process.env[ENV_VAR];

    const values = line.split('\t');
    assert.equal(values.length, FIELDS.length, line);
    const atom = Object.fromEntries(FIELDS.map((name, i) => [name, values[i]]));
    assert.deepEqual(
      { ...atom, t: '', T: '', M: '', D: '', L: '' },
      {
        h: '127.0.0.1',
        l: '-',
        u: 'alice',
        t: '',
        r: 'GET /chunked/p%20ath?x=1&y=%22 HTTP/1.1',
        s: '201',
        m: 'GET',
        U: '/chunked/p%20ath',
        q: 'x=1&y=%22',
        H: 'HTTP/1.1',
        b: '12',
        B: '12',
        f: 'http://example.com/from',
        a: 'curl/8 \\"quoted\\" \\\\ back',
        T: '',
        M: '',
        D: '',
        L: '',
        p: `<${process.pid}>`,
        'x-in': 'in-value',
        'x-out': 'out-value',
        'x-head': '-',
        env: 'env-value',
        absent: '-',
        percent: '100%',
      },
    );

    const t = /^\[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\]$/.exec(atom.t);
    assert.ok(t, atom.t);
    const instant = Date.parse(`${t[2]} ${t[1]} ${t[3]} ${t[4]}:${t[5]}:${t[6]} GMT${t[7]}`);
    assert.ok(instant >= Math.floor(before / 1000) * 1000 && instant <= Date.now(), atom.t);

    assert.equal(atom.T, '0');
    const micros = Number(atom.D);
    assert.ok(micros >= 20_000 && micros < 5_000_000, atom.D);
    assert.equal(atom.M, String(Math.floor(micros / 1000)));
    assert.equal(atom.L, `0.${String(micros).padStart(6, '0')}`);
  });

  it("takes Content-Length and writeHead()'s headers", async () => {
    const line = await logged('%(s)s %(b)s %(B)s %({x-head}o)s "%({content-length}o)s"', '/write-head');
    assert.equal(line, '202 3 3 from writeHead "3"');
  });

  it('prints - for missing values and 0 bytes for an empty body', async () => {
    const line = await logged('%(u)s %(q)s %(f)s %(a)s %(b)s %(B)s', '/empty', { Authorization: 'Bearer token' });
    assert.equal(line, '- - - - 0 0');
  });

  it('writes the default format like gunicorn', async () => {
    const line = await logged(DEFAULT_ACCESS_LOG_FORMAT, '/chunked?a=b', { 'User-Agent': 'test-agent' });
    assert.match(
      line,
      /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/chunked\?a=b HTTP\/1\.1" 201 12 "-" "test-agent"$/,
    );
  });

  it('splits lines across a rename + reopen', async () => {
    const file = freshPath();
    log = createAccessLog({ accesslog: file, accessLogFormat: '%(U)s' });
    await request(port, '/empty/1');
    await request(port, '/empty/2');
    fs.renameSync(file, `${file}.1`);
    log.reopen();
    await request(port, '/empty/3');
    await log.close();
    assert.deepEqual(lines(`${file}.1`), ['/empty/1', '/empty/2']);
    assert.deepEqual(lines(file), ['/empty/3']);
  });
});

describe('when the access-log line is written', () => {
  let server: http.Server;
  let port: number;
  let log: AccessLog;
  let file: string;
  /** What the log file held when the response's last bytes were handed to the socket. */
  let atSocketWrite: string | undefined;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;

  before(async () => {
    server = http.createServer((req, res) => {
      log.track(req, res);
      const socket = res.socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
      for (const method of ['_write', '_writev'] as const) {
        const original = socket[method];
        socket[method] = function (this: unknown, ...args: unknown[]) {
          atSocketWrite = fs.readFileSync(file, 'utf8');
          return original.apply(this, args);
        };
      }
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function open(buffered: boolean): void {
    file = freshPath();
    atSocketWrite = undefined;
    log = createAccessLog({ accesslog: file, accessLogFormat: '%(U)s %(s)s %(b)s', accessLogBuffered: buffered });
  }

  it('is in the file before end() hands the response to the socket', async () => {
    open(false);
    handler = (_req, res) => res.end('body');
    await request(port, '/direct');
    assert.equal(atSocketWrite, '/direct 200 4\n');
    await log.close();
    assert.deepEqual(lines(file), ['/direct 200 4']);
  });

  it('waits in memory when buffered (accessLogBuffered)', async () => {
    open(true);
    handler = (_req, res) => res.end('body');
    await request(port, '/buffered');
    assert.equal(atSocketWrite, '');
    await log.close();
    assert.deepEqual(lines(file), ['/buffered 200 4']);
  });

  it('is in the file before a write() that completes a Content-Length body reaches the socket', async () => {
    for (const [path, declare] of [
      ['/set-header', (res: http.ServerResponse) => res.setHeader('Content-Length', 4)],
      ['/write-head', (res: http.ServerResponse) => res.writeHead(200, { 'Content-Length': 4 })],
    ] as const) {
      open(false);
      handler = (_req, res) => {
        declare(res);
        res.write('bo');
        res.write('dy');
        // the client has the whole response now; end() comes a while later
        setTimeout(() => res.end(), 20);
      };
      await request(port, path);
      assert.equal(atSocketWrite, `${path} 200 4\n`);
      await log.close();
      assert.deepEqual(lines(file), [`${path} 200 4`]);
    }
  });

  it('counts every body byte written before end(), streamed and chunked', async () => {
    open(false);
    handler = (_req, res) => {
      res.write('abc');
      setImmediate(() => res.end('defg'));
    };
    await request(port, '/streamed');
    await log.close();
    assert.deepEqual(lines(file), ['/streamed 200 7']);
  });

  it('is written once when end() is called twice', async () => {
    open(false);
    handler = (_req, res) => {
      res.end('one');
      res.end();
    };
    await request(port, '/twice');
    await log.close();
    assert.deepEqual(lines(file), ['/twice 200 3']);
  });

  it('is not written for a response whose connection closed before end()', async () => {
    open(false);
    let ended: () => void = () => {};
    const endedLate = new Promise<void>((resolve) => (ended = resolve));
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    handler = (_req, res) => {
      res.once('close', () => {
        res.end('too late');
        ended();
      });
      arrived();
    };
    const client = http.get({ host: '127.0.0.1', port, path: '/gone', agent: false });
    client.on('error', () => {});
    await requestArrived;
    client.destroy();
    await endedLate;
    handler = (_req, res) => res.end();
    await request(port, '/after');
    await log.close();
    assert.deepEqual(lines(file), ['/after 200 0']);
  });
});

describe('access log of an http2 compatibility response', () => {
  it('is written when the response finishes', async () => {
    const file = freshPath();
    const log = createAccessLog({ accesslog: file, accessLogFormat: '%(U)s %(s)s %(H)s' });
    const server = http2.createServer((req, res) => {
      log.track(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
      res.end('h2');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await new Promise<void>((resolve, reject) => {
      const stream = client.request({ ':path': '/h2' });
      stream.on('error', reject).resume().on('end', resolve);
    });
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await log.close();
    assert.deepEqual(lines(file), ['/h2 200 HTTP/2.0']);
  });
});

describe('validateAccessLogFormat', () => {
  it('accepts the default format, every atom and %%', () => {
    assert.equal(validateAccessLogFormat(DEFAULT_ACCESS_LOG_FORMAT), null);
    assert.equal(validateAccessLogFormat(FORMAT), null);
    assert.equal(validateAccessLogFormat('no atoms at all'), null);
  });

  it('names an unknown atom', () => {
    assert.match(validateAccessLogFormat('%(h)s %(x)s') ?? '', /%\(x\)s/);
    assert.match(validateAccessLogFormat('%({}i)s') ?? '', /%\(\{\}i\)s/);
    assert.match(validateAccessLogFormat('%({host}z)s') ?? '', /\{host\}z/);
  });

  it('rejects a % that starts no atom', () => {
    assert.match(validateAccessLogFormat('%(h)d') ?? '', /offset 0/);
    assert.match(validateAccessLogFormat('100% sure') ?? '', /offset 3/);
  });

  it('makes createAccessLog throw', () => {
    assert.throws(() => createAccessLog({ accesslog: freshPath(), accessLogFormat: '%(nope)s' }), /%\(nope\)s/);
  });
});

describe("access log on stdout ('-')", () => {
  it('buffered: writes whole lines in batches of at most 4 KiB, and flushes at exit', () => {
    const moduleUrl = new URL('../../lib/log/line-file.js', import.meta.url).href;
    const script = `
      import fs from 'node:fs';
      const { LineFile } = await import(${JSON.stringify(moduleUrl)});
      const chunks = [];
      const writeSync = fs.writeSync;
      fs.writeSync = (fd, data, ...rest) => { if (fd === 1) chunks.push(data.toString()); return writeSync(fd, data, ...rest); };
      const out = new LineFile({ kind: 'stdio', fd: 1 }, { mode: 'batched' });
      for (let i = 0; i < 3000; i++) out.write('line ' + i + ' ' + 'x'.repeat(90) + '\\n');
      setImmediate(() => {
        for (let i = 3000; i < 6000; i++) out.write('line ' + i + ' ' + 'x'.repeat(90) + '\\n');
        process.on('exit', () => fs.writeSync(2, JSON.stringify(chunks.map((c) => [Buffer.byteLength(c), c.endsWith('\\n')]))));
        process.exit(0);
      });`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const out = child.stdout.slice(0, -1).split('\n');
    assert.deepEqual(
      out,
      Array.from({ length: 6000 }, (_, i) => `line ${i} ${'x'.repeat(90)}`),
    );
    const chunks = JSON.parse(child.stderr) as [number, boolean][];
    assert.ok(chunks.length > 0 && chunks.length < 200, `${chunks.length} writes`);
    for (const [bytes, whole] of chunks) assert.ok(bytes <= 4096 && whole, `${bytes} ${whole}`);
  });
});
