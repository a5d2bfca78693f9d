import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { IN_FLIGHT, cleanup, isRunning, slowRequest, startServer, waitFor, workersOf } from '../support/harness.js';
import { roomForFiles } from '../support/open-files.js';

after(() => cleanup());

// sized for CI; scripts/bench runs the same drain with 10,000
const IDLE = Number(process.env.DRAIN_IDLE ?? 2500);
const SLOW_MS = 1500;
// each connection is an fd here and one in a worker
const tooFewFds = roomForFiles(2 * IDLE + 500);

/** One request on each of `n` keep-alive sockets, left open and idle in `agent`'s pool. */
async function idleConnections(url: string, agent: http.Agent, n: number): Promise<void> {
  const one = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get(`${url}/?ms=0`, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  await Promise.all(Array.from({ length: n }, one));
}

/**
 * A keep-alive client that does not close its side when the server closes
 * the connection (it ignores the FIN): one request, answered, then silence.
 */
function stubbornConnection(port: number, sockets: net.Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
      sock.write('GET /?ms=0 HTTP/1.1\r\nHost: app.example\r\n\r\n'),
    );
    sockets.push(sock);
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      got += d;
      if (got.includes('slept 0 ms')) resolve();
    });
    sock.on('error', () => {}); // a reset after the drain is fine; before it, the test fails on `got`
    sock.once('close', () => reject(new Error(`closed before its answer: ${JSON.stringify(got)}`)));
  });
}

describe('draining many connections', { skip: tooFewFds }, () => {
  it('a HUP with thousands of idle keep-alive connections ends the old workers within seconds of the last in-flight request, not at gracefulTimeout', async () => {
    const { proc, url, port } = await startServer(
      ['-w', '2', '--graceful-timeout', '30', '--worker-connections', String(IDLE)],
      { app: IN_FLIGHT },
    );
    const old = workersOf(proc.pid);
    assert.equal(old.length, 2);
    const agent = new http.Agent({ keepAlive: true, maxSockets: IDLE, maxFreeSockets: IDLE });
    const stubborn: net.Socket[] = [];
    try {
      await idleConnections(url, agent, IDLE);
      await Promise.all(Array.from({ length: 20 }, () => stubbornConnection(port, stubborn)));
      const idle = Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);
      assert.ok(idle >= IDLE * 0.9, `${idle} idle keep-alive connections open`);

      const slow = Array.from({ length: 4 }, () => slowRequest(url, SLOW_MS));
      await Promise.all(slow.map((s) => s.handled));
      const from = proc.lines.length;
      proc.kill('SIGHUP');
      // the old workers drain once the new generation is ready, which on a loaded machine may be after the replies
      const draining = Promise.all(
        old.map((pid) => proc.line(new RegExp(`\\[${pid}\\] \\[INFO\\] worker received TERM`), 30_000, from)),
      ).then(() => performance.now());
      const replies = await Promise.all(slow.map((s) => s.reply));
      const lastReply = performance.now();
      for (const r of replies) assert.ok(!(r instanceof Error) && r.status === 200, `in-flight request: ${String(r)}`);
      await waitFor(
        () => old.every((pid) => !isRunning(pid)),
        () => `the old workers to exit:\n${proc.output}`,
        30_000,
      );
      const late = performance.now() - Math.max(lastReply, await draining);
      // idle connections that held the drain would keep the workers to the 30 s gracefulTimeout; closing
      // thousands of sockets and exiting takes well under a second, or a few on a loaded machine
      assert.ok(
        late <= 3000,
        `old workers outlived the drain's start and the last in-flight request by ${Math.round(late)} ms`,
      );
    } finally {
      agent.destroy();
      for (const sock of stubborn) sock.destroy();
    }
  });
});
