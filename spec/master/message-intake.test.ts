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
import { CHANNEL_PAUSES } from '../../lib/master/intake/channel-gate.js';
import { CHANNELS, type ChannelBudget } from '../../lib/protocol/channel.js';
import type { WorkerToMaster } from '../../lib/protocol/messages.js';

/** node:child_process's channel handle, as node-internals.ts reads it: parses lines and emits them, as Node does. */
class FakePipe {
  reading = true;
  parsed = 0;
  [key: symbol]: unknown;
  constructor(readonly child: FakeChild) {
    this[Symbol('kJSONBuffer')] = '';
    this[Symbol('kStringDecoder')] = undefined;
  }
  onread(buf?: ArrayBuffer): void {
    const key = Object.getOwnPropertySymbols(this).find((s) => s.description === 'kJSONBuffer')!;
    const lines = ((this[key] as string) + Buffer.from(buf!).toString()).split('\n');
    this[key] = lines.pop();
    for (const line of lines) {
      this.parsed++;
      this.child.emit('message', JSON.parse(line));
    }
  }
  readStop(): number {
    this.reading = false;
    return 0;
  }
  readStart(): number {
    this.reading = true;
    return 0;
  }
}

class FakeChild extends EventEmitter {
  readonly pid = 4242;
  connected = true;
  readonly sent: unknown[] = [];
  _handleQueue = null;
  readonly pipe: FakePipe = new FakePipe(this);
  constructor() {
    super();
    (this as unknown as Record<symbol, unknown>)[Symbol('kChannelHandle')] = this.pipe;
  }
  send(msg: unknown, _handle: unknown, _options: unknown, cb: () => void): boolean {
    this.sent.push(msg);
    cb();
    return true;
  }
  /** Raw bytes on the channel, through the guarded read callback. */
  write(text: string): void {
    const bytes = Buffer.from(text);
    this.pipe.onread(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
}

const budget = (over: Partial<ChannelBudget>): ChannelBudget => ({ ...CHANNELS.ipc.budget, ...over });

function setup(opts: { deliver?: (msg: WorkerToMaster) => void } = {}) {
  let now = 0;
  const lines: string[] = [];
  const delivered: WorkerToMaster[] = [];
  const stops: string[] = [];
  const relayed: unknown[] = [];
  const timers: Array<{ at: number; fn: () => void }> = [];
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
      relay: (_h, msg) => {
        relayed.push(msg);
        return null;
      },
    },
    () => now,
    {
      ipc: budget({ messagesPerSecond: 10, burstSeconds: 0.5, maxMessageBytes: 2000 }),
      metrics: budget({ messagesPerSecond: 1, burstSeconds: 1, maxMessageBytes: 1000 }),
      relay: budget({ messagesPerSecond: 100, burstSeconds: 1, maxMessageBytes: 1000 }),
    },
    {
      now: () => now,
      set: (fn, ms) => timers.push({ at: now + ms, fn }),
      clear: (t) => timers.splice(timers.indexOf(t as (typeof timers)[number]), 1),
    },
  );
  intake.attach(h);
  const tick = (ms: number): void => {
    now += ms;
    for (const t of timers.filter((x) => x.at <= now)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  return {
    h,
    child,
    intake,
    lines,
    delivered,
    stops,
    relayed,
    send: (m: unknown) => child.emit('message', m),
    raw: (text: string) => child.write(text),
    internal: (m: unknown, handle?: unknown) => child.emit('internalMessage', m, handle),
    tick,
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
    assert.deepEqual(t.intake.ignored, { unknown: 1, malformed: 1, state: 1, internal: 0, bind: 0 });
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

  it('answers volume with backpressure: reading stops, nothing is dropped, nobody is stopped', () => {
    const t = setup();
    const pauses = CHANNEL_PAUSES.ipc;
    const beat = (i: number): string => `${JSON.stringify({ type: 'heartbeat', requests: i, accepted: 0, rss: 1 })}\n`;
    t.raw(Array.from({ length: 20 }, (_, i) => beat(i)).join(''));
    // the chunk read is handled whole; then the master stops reading until the budget is earned back
    assert.equal(t.delivered.length, 20);
    assert.equal(t.child.pipe.reading, false);
    assert.equal(t.h.readPaused, true, 'a paused worker is not hung');
    assert.equal(CHANNEL_PAUSES.ipc, pauses + 1);
    t.tick(1400);
    assert.equal(t.child.pipe.reading, false, '15 messages over a budget of 10 a second: 1.5 s');
    t.tick(100);
    assert.equal(t.child.pipe.reading, true);
    assert.equal(t.h.readPaused, false);
    assert.equal(t.h.lastCheckin, 1500, 'the heartbeat deadline runs from the read that resumed');
    t.raw(beat(99));
    assert.equal(t.delivered.length, 21);
    assert.deepEqual(t.stops, []);
  });

  it("passes socket.io cluster-adapter's messages to the relay on their own budget", () => {
    const t = setup();
    const beats = Array.from({ length: 50 }, (_, i) => `${JSON.stringify({ source: '_sio_adapter', type: 3, i })}\n`);
    t.raw(beats.join(''));
    assert.equal(t.relayed.length, 50);
    assert.equal(t.child.pipe.reading, true, 'within the relay budget, whatever the IPC one');
    assert.deepEqual(t.delivered, []);
  });

  it('keeps each channel to its own budget', () => {
    const t = setup();
    t.send({ type: 'prom-client:getMetricsRes', requestId: 1, metrics: [] });
    assert.equal(t.child.pipe.reading, true);
    t.send({ type: 'prom-client:getMetricsRes', requestId: 2, metrics: [] });
    assert.equal(t.child.pipe.reading, false, 'one answer a second');
    t.tick(1000);
    assert.equal(t.child.pipe.reading, true);
  });

  it('stops a worker whose line does not parse, or is longer than its channel allows, before parsing it', () => {
    const t = setup();
    t.raw('{"type":"ready"');
    t.raw('x'.repeat(1990));
    assert.equal(t.child.pipe.parsed, 0);
    assert.deepEqual(t.stops, ['sent a message over 2000 bytes over its IPC channel']);
    t.tick(60_000);
    t.send({ type: 'heartbeat', requests: 99, accepted: 0, rss: 1 });
    assert.equal(t.delivered.length, 0, 'nothing more from a stopped worker');
    const u = setup();
    u.raw('not json\n');
    assert.deepEqual(u.stops, ['sent data that is not a message over its IPC channel']);
  });

  it('drops a message longer than the parse limit unparsed, and reads on', () => {
    const t = setup();
    const long = JSON.stringify({ type: 'heartbeat', requests: 1, accepted: 1, rss: 1, pad: 'x'.repeat(1100) });
    t.raw(long.slice(0, 500));
    t.raw(`${long.slice(500)}\n{"type":"want-sockets"}\n`);
    assert.deepEqual(t.stops, []);
    assert.deepEqual(t.delivered, [{ type: 'want-sockets' }]);
    assert.equal(t.intake.ignored.malformed, 1);
    assert.match(t.lines[0]!, /dropped a message of 1\d{3} bytes unparsed/);
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

  it("escapes a bind request's address and an internal command's name in its lines", () => {
    const t = setup();
    const forged = '1\n[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\x1b[2J';
    t.internal({ cmd: 'NODE_CLUSTER', act: 'queryServer', address: forged, port: forged, addressType: 4, seq: 1 });
    t.internal({ cmd: `NODE_${forged}` });
    assert.equal(t.lines.length, 2);
    for (const line of t.lines) {
      assert.match(line, /1\\x0a\[2020-01-01 00:00:00 \+0000\] \[1\] \[/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be there
      assert.doesNotMatch(line, /[\n\x1b]/);
    }
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
