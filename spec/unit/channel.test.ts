// The channels' budgets: the documented defaults, the meter that keeps them
// (on an injected clock) and the valve that stops reading while one is spent.
// The compile-fail lines at the end are checked by tsc in the normal build:
// an `@ts-expect-error` that finds no error fails the build.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANNEL_PAUSES, ChannelMeter, ReadValve, tooLong } from '../../lib/master/intake/channel-gate.js';
import { LineMeter } from '../../lib/master/intake/ipc-guard.js';
import { CHANNELS, CHANNEL_NAMES, defineChannel } from '../../lib/protocol/channel.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('the channels from a worker to the master', () => {
  it('have the documented budgets (docs/worker-boundary.md)', () => {
    assert.deepEqual(CHANNEL_NAMES, ['ipc', 'errorPipe', 'metrics', 'relay', 'hang']);
    const table = Object.fromEntries(CHANNEL_NAMES.map((n) => [n, CHANNELS[n].budget]));
    assert.deepEqual(table, {
      ipc: { bytesPerSecond: 4 * MiB, messagesPerSecond: 200, burstSeconds: 2, maxMessageBytes: MiB, deadlines: {} },
      errorPipe: {
        bytesPerSecond: 2 * MiB,
        messagesPerSecond: 5000,
        burstSeconds: 1,
        maxMessageBytes: 64 * KiB,
        deadlines: {},
      },
      metrics: {
        bytesPerSecond: 4 * MiB,
        messagesPerSecond: 10,
        burstSeconds: 2,
        maxMessageBytes: 512 * KiB,
        deadlines: { 'prom-client:getMetricsReq': 1000 },
      },
      relay: {
        bytesPerSecond: 16 * MiB,
        messagesPerSecond: 5000,
        burstSeconds: 2,
        maxMessageBytes: 512 * KiB,
        deadlines: {},
      },
      hang: {
        bytesPerSecond: 32 * KiB,
        messagesPerSecond: 1,
        burstSeconds: 4,
        maxMessageBytes: 32 * KiB,
        deadlines: {},
      },
    });
    for (const n of CHANNEL_NAMES) assert.equal(CHANNELS[n].name, n);
  });

  it('meter bytes and messages: a burst, then the sustained rate', () => {
    const budget = { ...CHANNELS.ipc.budget, bytesPerSecond: 1000, messagesPerSecond: 10, burstSeconds: 1 };
    const m = new ChannelMeter(budget, 0);
    assert.equal(m.spend(500, 5, 0), 0);
    assert.equal(m.spend(500, 5, 0), 0, 'the burst');
    assert.equal(m.spend(100, 1, 0), 100, 'over it: wait for the debt (the larger of the two)');
    assert.equal(m.spend(0, 0, 100), 0, 'paid');
    assert.equal(m.spend(0, 11, 1100), 100, 'messages too');
    assert.equal(m.spend(0, 0, 1_000_000), 0, 'never more than the burst saved up');
    assert.equal(m.spend(1000, 10, 1_000_000), 0);
    assert.equal(m.spend(1, 0, 1_000_000), 1);
    assert.equal(tooLong(budget, budget.maxMessageBytes), false);
    assert.equal(tooLong(budget, budget.maxMessageBytes + 1), true);
  });

  it('valve: closed while any hold is on, one pause counted per closing', async () => {
    let now = 0;
    const timers: Array<{ at: number; fn: () => void }> = [];
    const calls: string[] = [];
    const v = new ReadValve(
      'relay',
      { stop: () => calls.push('stop'), start: () => calls.push('start') },
      { paused: () => calls.push('paused'), resumed: () => calls.push('resumed') },
      {
        now: () => now,
        set: (fn, ms) => timers.push({ at: now + ms, fn }),
        clear: (t) => timers.splice(timers.indexOf(t as (typeof timers)[number]), 1),
      },
    );
    const tick = (ms: number): void => {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    };
    const pauses = CHANNEL_PAUSES.relay;
    v.holdFor(0);
    assert.equal(v.paused, false);
    v.holdFor(100);
    v.holdFor(50); // shorter than the running wait: no change
    let settle = (): void => {};
    v.holdUntil(new Promise<void>((resolve) => (settle = resolve)));
    tick(100);
    assert.equal(v.paused, true, 'the sink still holds it');
    settle();
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(v.paused, false);
    assert.deepEqual(calls, ['stop', 'paused', 'start', 'resumed']);
    assert.equal(CHANNEL_PAUSES.relay, pauses + 1);
    v.holdFor(10);
    v.close();
    tick(20);
    assert.deepEqual(calls.slice(4), ['stop', 'paused'], 'a closed valve never starts reading again');
  });

  it('cannot be declared without budgets (checked by the build)', () => {
    const budget = { bytesPerSecond: 1, messagesPerSecond: 1, burstSeconds: 1, maxMessageBytes: 1 };
    // @ts-expect-error a channel without a budget does not compile
    defineChannel({ name: 'sticky', doc: 'hand-off acknowledgements' });
    // @ts-expect-error nor one without a deadline for each request the master makes
    defineChannel({ name: 'sticky', doc: 'hand-off acknowledgements', budget });
    // @ts-expect-error nor one whose message budget is left out
    defineChannel({ name: 'sticky', doc: '', budget: { ...budget, messagesPerSecond: undefined, deadlines: {} } });
    assert.ok(defineChannel({ name: 'sticky', doc: '', budget: { ...budget, deadlines: { ack: 5000 } } }));
  });

  it('measure IPC lines before they are parsed, and blank the ones too long to parse', () => {
    const m = new LineMeter(30);
    const chunk = (s: string) => new TextEncoder().encode(s);
    const a = chunk('{"a":1}\n{"b":"');
    assert.deepEqual(m.read(a), { sizes: [7], longest: 7, replaceBuffered: false, swallow: false });
    const rest = `${'y'.repeat(40)}"}\n{"c":3}\n${'z'.repeat(40)}`;
    const b = chunk(rest);
    const measured = m.read(b);
    assert.deepEqual(measured, { sizes: [48, 7], longest: 48, replaceBuffered: true, swallow: false });
    const text = new TextDecoder().decode(b);
    assert.equal(text, `${' '.repeat(42)}\n{"c":3}\n{"type":"tsgund:skipped"}${' '.repeat(15)}`);
    // a chunk inside a dropped line: Node need not see it
    assert.deepEqual(m.read(chunk('z'.repeat(100))), {
      sizes: [],
      longest: 140,
      replaceBuffered: false,
      swallow: true,
    });
    assert.deepEqual(m.read(chunk('zz\n')), { sizes: [142], longest: 142, replaceBuffered: false, swallow: false });
  });
});
