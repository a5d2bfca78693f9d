import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { which } from '../support/exec.js';
import https from 'node:https';
import { FIXTURES, cleanup, request, selfSignedCert, startServer, tempDir, waitFor } from '../support/harness.js';

after(() => cleanup());

const CONNECTIONS = 1000;
const HEADERS_TIMEOUT_MS = 2000;

/** The soft and hard limits on open files of this process (the master and its workers inherit them). */
function openFilesLimits(): [number, number] {
  const [soft, hard] = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))!.slice(1);
  const n = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
  return [n(soft), n(hard)];
}

/**
 * Each connection is an fd here and one in the worker: raise this process's
 * soft limit when it is too low (Node has no setrlimit; prlimit(1) can set
 * another process's, ours included), or say why the test cannot run.
 */
function roomForConnections(): string | false {
  const needed = CONNECTIONS + 500;
  if (openFilesLimits()[0] >= needed) return false;
  const prlimit = which('prlimit');
  if (prlimit && openFilesLimits()[1] >= needed) {
    spawnSync(prlimit, ['--pid', String(process.pid), `--nofile=${needed}:`], { stdio: 'ignore' });
  }
  const soft = openFilesLimits()[0];
  return soft >= needed ? false : `needs ulimit -n ${needed} (is ${soft})`;
}
const tooFewFds = roomForConnections();

interface Slow {
  openedAt: number;
  closedAt: Promise<number>;
  reply: () => string;
}

/** A connection that sends half of its headers and then nothing. */
function slowClient(port: number): Promise<Slow> {
  return new Promise((resolve, reject) => {
    let got = '';
    let closed: (t: number) => void = () => {};
    const closedAt = new Promise<number>((r) => (closed = r));
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write('GET / HTTP/1.1\r\nHost: app.example\r\nX-Slow: ');
      resolve({ openedAt: performance.now(), closedAt, reply: () => got });
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (got += d));
    sock.on('error', () => {}); // a reset is a close too
    sock.on('close', () => closed(performance.now()));
    sock.once('error', reject);
  });
}

/** Open the slow connections, serve others meanwhile, and return how long the slowest lived. */
async function slowloris(port: number): Promise<{ longestMs: number; served: number }> {
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => slowClient(port)));
  let served = 0;
  let closedAll = false;
  const others = (async () => {
    while (!closedAll) {
      const reply = await request(`http://127.0.0.1:${port}/`);
      assert.equal(reply.status, 200);
      served++;
      await new Promise((r) => setTimeout(r, 10)); // a steady trickle, not a load test
    }
  })();
  const lifetimes = await Promise.all(clients.map(async (c) => (await c.closedAt) - c.openedAt));
  closedAll = true;
  await others;
  for (const c of clients) assert.match(c.reply(), /^(HTTP\/1\.1 408 Request Timeout\r\n|$)/);
  return { longestMs: Math.max(...lifetimes), served };
}

describe('slow headers (slowloris)', { skip: tooFewFds }, () => {
  for (const [what, args, app] of [
    ['an exported server with its own headersTimeout', [], join(FIXTURES, 'slow-headers-server.js')],
    ["tsgund's server with --headers-timeout", ['--headers-timeout', String(HEADERS_TIMEOUT_MS / 1000)], undefined],
  ] as const) {
    it(`${what}: ${CONNECTIONS} connections that never finish their headers end within it + 1 s; others are served`, {
      timeout: 60_000,
    }, async () => {
      const { proc, port } = await startServer(['-w', '1', '--worker-connections', '5000', ...args], { app });
      const { longestMs, served } = await slowloris(port);
      assert.ok(served > 0, 'other clients were served meanwhile');
      assert.ok(
        longestMs <= HEADERS_TIMEOUT_MS + 1000,
        `the slowest connection lived ${Math.round(longestMs)} ms, over ${HEADERS_TIMEOUT_MS + 1000}`,
      );
      console.log(`# slowest of ${CONNECTIONS}: ${Math.round(longestMs)} ms; ${served} other requests served`);
      proc.kill('SIGTERM');
      await waitFor(async () => (await proc.exit).code === 0, 'the master exits');
    });
  }
});

describe('TLS handshakes', () => {
  it('connections that never start their handshake end within --headers-timeout and free their slots', {
    timeout: 30_000,
  }, async () => {
    const { cert, key } = selfSignedCert(tempDir());
    const SLOTS = 10;
    const args = ['-w', '1', '--certfile', cert, '--keyfile', key, '--headers-timeout', '2'];
    const { proc, port } = await startServer([...args, '--worker-connections', String(SLOTS)]);
    const silent = await Promise.all(
      Array.from({ length: SLOTS + 2 }, () => slowClientTcp(port)), // never send a byte
    );
    const lifetimes = await Promise.all(silent.map(async (c) => (await c.closedAt) - c.openedAt));
    const longest = Math.max(...lifetimes);
    assert.ok(longest <= HEADERS_TIMEOUT_MS + 1500, `a silent connection lived ${Math.round(longest)} ms`);
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${port}/`, { rejectUnauthorized: false, agent: false }, (r) => {
          r.resume();
          resolve(r.statusCode!);
        })
        .on('error', reject);
    });
    assert.equal(status, 200, 'an HTTPS client is served once the silent connections are gone');
    proc.kill('SIGTERM');
    await waitFor(async () => (await proc.exit).code === 0, 'the master exits');
  });
});

/** A TCP connection that sends nothing at all. */
function slowClientTcp(port: number): Promise<{ openedAt: number; closedAt: Promise<number> }> {
  return new Promise((resolve, reject) => {
    let closed: (t: number) => void = () => {};
    const closedAt = new Promise<number>((r) => (closed = r));
    const sock = net.connect(port, '127.0.0.1', () => resolve({ openedAt: performance.now(), closedAt }));
    sock.on('error', () => {});
    sock.on('close', () => closed(performance.now()));
    sock.once('error', reject);
  });
}
