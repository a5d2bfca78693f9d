// The intake's decisions with an injected clock: what is delivered, ignored
// (counted, one debug line a second per worker), refused or stopped. The
// worker is an EventEmitter standing in for node:cluster's Worker; the real
// channel is exercised end to end in spec/e2e/hostile-app.test.ts.
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { defaults } from '../../lib/config/resolve.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import { MessageIntake } from '../../lib/master/intake/message-intake.js';
import { WorkerHandle } from '../../lib/master/pool/worker-handle.js';
import type { WorkerToMaster } from '../../lib/protocol/messages.js';

class FakeChild extends EventEmitter {
  readonly pid = 4242;
  connected = true;
  readonly sent: unknown[] = [];
  send(msg: unknown, _handle: unknown, _options: unknown, cb: () => void): boolean {
    this.sent.push(msg);
    cb();
    return true;
  }
}

function setup(opts: { deliver?: (msg: WorkerToMaster) => void } = {}) {
  let now = 0;
  const lines: string[] = [];
  const delivered: WorkerToMaster[] = [];
  const stops: string[] = [];
  const log = Object.fromEntries(
    ['debug', 'info', 'warning', 'error', 'critical'].map((level) => [
      level,
      (msg: string) => lines.push(`${level}: ${msg}`),
    ]),
  ) as unknown as ErrorLog;
  const child = new FakeChild();
  const worker = Object.assign(new EventEmitter(), { process: child, id: 1 });
  child.on('message', (m: unknown) => worker.emit('message', m)); // as node:cluster's Worker does
  const h = new WorkerHandle(worker as unknown as Worker, {
    number: 1,
    settings: { ...defaults(), gracefulTimeout: 1 },
  });
  const intake = new MessageIntake(
    {
      log: () => log,
      counted: () => {},
      deliver: (_h, msg) => (opts.deliver ?? ((m) => delivered.push(m)))(msg),
      stop: (_h, why) => stops.push(why),
    },
    () => now,
    { perSecond: 10, burst: 5, overdraft: 3 },
  );
  intake.attach(h);
  return {
    h,
    child,
    intake,
    lines,
    delivered,
    stops,
    send: (m: unknown) => child.emit('message', m),
    internal: (m: unknown, handle?: unknown) => child.emit('internalMessage', m, handle),
    tick: (ms: number) => (now += ms),
  };
}

describe('MessageIntake', () => {
  it('delivers valid messages and ignores the rest by reason', () => {
    const t = setup();
    t.send({ type: 'want-sockets' });
    t.send({ type: 'want-sockets' });
    t.send('ready');
    t.send({ type: 'heartbeat', requests: -1, accepted: 0, rss: 0 });
    assert.deepEqual(t.delivered, [{ type: 'want-sockets' }]);
    assert.deepEqual(t.intake.ignored, { unknown: 1, malformed: 1, state: 1, internal: 0, bind: 0, rate: 0 });
  });

  it('writes one debug line a second per worker, then says how many it left out', () => {
    const t = setup();
    for (let i = 0; i < 4; i++) t.send({ type: 'app:event' });
    assert.deepEqual(t.lines, ["debug: Worker 4242: ignored a message (unknown): type 'app:event'"]);
    t.tick(999);
    t.send({ type: 'app:event' });
    assert.equal(t.lines.length, 1);
    t.tick(1);
    t.send(7);
    assert.equal(
      t.lines[1],
      'debug: Worker 4242: ignored a message (unknown): a number (and 4 more since the previous line)',
    );
  });

  it('drops over the rate, and stops a flooding worker once', () => {
    const t = setup();
    for (let i = 0; i < 20; i++) t.send({ type: 'heartbeat', requests: i, accepted: 0, rss: 1 });
    assert.equal(t.delivered.length, 5);
    assert.equal(t.intake.ignored.rate, 2);
    assert.deepEqual(t.stops, ['flooded the master with messages (over 10 a second)']);
    t.tick(60_000);
    t.send({ type: 'heartbeat', requests: 99, accepted: 0, rss: 1 });
    assert.equal(t.delivered.length, 5, 'nothing more from a stopped worker');
  });

  it('refuses a bind request with EACCES, and drops internal messages Node would choke on', () => {
    const t = setup();
    t.internal({ cmd: 'NODE_CLUSTER', act: 'queryServer', address: '127.0.0.1', port: 4000, addressType: 4, seq: 7 });
    assert.deepEqual(t.child.sent, [{ cmd: 'NODE_CLUSTER', ack: 7, errno: -13, data: null }]);
    assert.match(t.lines[0]!, /^warning: Worker 4242: refused to bind 127\.0\.0\.1:4000 \(4\) for it/);
    let closed = 0;
    t.internal({ cmd: 'NODE_HANDLE_ACK' });
    t.internal({ cmd: 'NODE_HANDLE', type: 'net.Native', msg: {} }, { close: () => closed++ });
    t.internal({ cmd: 'NODE_CLUSTER', act: 'online', ack: 3 });
    assert.equal(closed, 1);
    assert.deepEqual(t.child.sent.at(-1), { cmd: 'NODE_HANDLE_ACK' });
    assert.equal(t.intake.ignored.internal, 3);
    assert.equal(t.intake.ignored.bind, 1);
  });

  it('a handler that throws is logged, never thrown into the channel', () => {
    const t = setup({
      deliver: () => {
        throw new Error('bug');
      },
    });
    assert.doesNotThrow(() => t.send({ type: 'want-sockets' }));
    assert.match(t.lines[0]!, /^error: handling a 'want-sockets' message from worker 4242 failed/);
  });
});
