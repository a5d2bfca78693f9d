// Rapid reset (CVE-2023-44487): a stream the client reset in the read that
// brought it never reaches the app, and a session that spends its reset
// budget is ended.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { createH2Server } from '../../lib/worker/h2-server.js';
import { ResetBudget } from '../../lib/worker/reset-gate.js';
import { h2get } from '../support/h2-client.js';

describe('ResetBudget', () => {
  it('allows a burst, then the rate, on the clock passed in', () => {
    const budget = new ResetBudget(3, 10, 0);
    assert.deepEqual([budget.spend(0), budget.spend(0), budget.spend(0), budget.spend(0)], [true, true, true, false]);
    assert.equal(budget.spend(50), false, 'half a token back after 50 ms');
    assert.equal(budget.spend(150), true, 'one and a half after 150 ms');
    assert.equal(budget.spend(150), false);
    assert.equal(budget.spend(100), false, 'a clock that goes back refills nothing');
    assert.equal(budget.spend(200), true);
  });
});

const frame = (type: number, flags: number, id: number, payload: Buffer): Buffer => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
};
// GET http / with :authority "x" (HPACK, static table), END_HEADERS and END_STREAM
const GET = Buffer.from([0x82, 0x86, 0x84, 0x01, 0x01, 0x78]);
const CANCEL = Buffer.from([0, 0, 0, 8]);
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))]);

const PING = frame(6, 0, 0, Buffer.alloc(8));

/**
 * Writes `streams` HEADERS, each followed by its RST_STREAM, and a PING, in
 * one write; resolves with the GOAWAY code (-1: none) once the server has
 * answered the PING (so read all) or closed.
 */
function floodOnce(port: number, streams: number): Promise<number> {
  const frames: Buffer[] = [PREFACE];
  for (let id = 1; id < streams * 2; id += 2) frames.push(frame(1, 5, id, GET), frame(3, 0, id, CANCEL));
  frames.push(PING);
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let code = -1;
    const socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat(frames)));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      for (let at = 0; at + 9 <= got.length; at += 9 + got.readUIntBE(at, 3)) {
        if (got[at + 3] === 7 && at + 17 <= got.length) code = got.readUInt32BE(at + 13);
        if (got[at + 3] === 6 && got[at + 4] === 1) socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(code));
  });
}

describe('streams reset before they reach the app', () => {
  const settings = {
    keepAlive: 5,
    limitRequestFields: 100,
    limitRequestFieldSize: 8190,
    headersTimeout: 5,
    requestTimeout: 0,
    http2MaxConcurrentStreams: 100,
    http2StreamResetBurst: 50,
    http2StreamResetRate: 1,
    http2MaxSessionInvalidFrames: 100,
    http2MaxControlFrames: 100,
  };
  const server = createH2Server(settings, null);
  let calls = 0;
  server.on('request', (_req: unknown, res: { end(s: string): void }) => {
    calls++;
    res.end('ok');
  });
  const listening = new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
  after(() => server.close());

  it('cost no app call, and a session past its budget is ended with GOAWAY', async () => {
    const port = await listening;
    const code = await floodOnce(port, 40);
    assert.equal(calls, 0, 'streams reset in the read that brought them reach no app');
    assert.equal(code, -1, 'within the budget the session is not told to go away');
    const calm = [http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, http2.constants.NGHTTP2_INTERNAL_ERROR];
    assert.ok(calm.includes(await floodOnce(port, 500)), 'past the budget: GOAWAY, by tsgund or nghttp2');
    assert.equal(calls, 0);
  });

  it('still serves a well-behaved client', async () => {
    const { body } = await h2get(`http://127.0.0.1:${await listening}`);
    assert.equal(body, 'ok');
    assert.equal(calls, 1);
  });
});
