// Every kind of worker message against its schema and the sender's state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCHEMAS, validateWorkerMessage, type Verdict } from '../../lib/protocol/worker-message-schemas.js';
import { MAX_TEXT, escapeText } from '../../lib/worker-text.js';
import type { WorkerState } from '../../lib/protocol/messages.js';
import { DURATION_BUCKETS } from '../../lib/protocol/request-metrics.js';
import type { WorkerToMaster } from '../../lib/protocol/messages.js';

type Kind = WorkerToMaster['type'];

const frame = () => ({ fn: 'f', file: '/srv/app.js', line: 1, column: 1 });
const stats = () => ({ classes: [0, 3, 0, 1, 0], buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0.5 });

/** A valid message of each kind, and a state in which the master acts on it (a missing kind does not compile). */
const VALID: { [K in Kind]: { msg: Extract<WorkerToMaster, { type: K }>; state: WorkerState } } = {
  'want-sockets': { msg: { type: 'want-sockets' }, state: 'booting' },
  ready: { msg: { type: 'ready' }, state: 'booting' },
  'boot-error': { msg: { type: 'boot-error', exitCode: 4, message: "app 'x' failed" }, state: 'booting' },
  heartbeat: { msg: { type: 'heartbeat', requests: 10, accepted: 2, rss: 50_000_000, stats: stats() }, state: 'ready' },
  retiring: { msg: { type: 'retiring', reason: 'max requests (5) reached' }, state: 'ready' },
  hang: {
    msg: {
      type: 'hang',
      stuckMs: 7500,
      frames: [{ fn: 'spinForever', file: '/srv/app.js', line: 3, column: 9 }],
      more: 0,
    },
    state: 'ready',
  },
  'prom-client:getMetricsRes': {
    msg: { type: 'prom-client:getMetricsRes', requestId: 7, metrics: [[]], error: undefined },
    state: 'ready',
  },
};

/** Messages of each kind that no state makes acceptable. */
const MALFORMED: Record<Kind, unknown[]> = {
  'want-sockets': [{ type: 'want-sockets', extra: 1 }],
  ready: [{ type: 'ready', pid: 1 }],
  'boot-error': [
    { type: 'boot-error', exitCode: 0, message: 'x' },
    { type: 'boot-error', exitCode: 256, message: 'x' },
    { type: 'boot-error', exitCode: 1.5, message: 'x' },
    { type: 'boot-error', exitCode: '3', message: 'x' },
    { type: 'boot-error', exitCode: 3, message: 42 },
    { type: 'boot-error', exitCode: 3 },
  ],
  heartbeat: [
    { type: 'heartbeat', requests: 'many', accepted: 0, rss: 1 },
    { type: 'heartbeat', requests: -1, accepted: 0, rss: 1 },
    { type: 'heartbeat', requests: 1.5, accepted: 0, rss: 1 },
    { type: 'heartbeat', requests: Number.POSITIVE_INFINITY, accepted: 0, rss: 1 },
    { type: 'heartbeat', requests: Number.NaN, accepted: 0, rss: 1 },
    { type: 'heartbeat', requests: 2 ** 53, accepted: 0, rss: 1 },
    { type: 'heartbeat', requests: 1, accepted: null, rss: 1 },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 2 ** 41 },
    { type: 'heartbeat', requests: 1, accepted: 1 },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: null },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: [] },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), classes: [1, 2] } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), classes: [0, -1, 0, 0, 0] } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), classes: [0, 1e20, 0, 0, 0] } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), buckets: [1] } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), sum: -1 } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), sum: Number.NaN } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, stats: { ...stats(), extra: 1 } },
    { type: 'heartbeat', requests: 1, accepted: 1, rss: 1, more: 'x'.repeat(1000) },
  ],
  hang: [
    { type: 'hang', stuckMs: 1, frames: [], more: 0 },
    { type: 'hang', stuckMs: -1, frames: [frame()], more: 0 },
    { type: 'hang', stuckMs: Number.NaN, frames: [frame()], more: 0 },
    { type: 'hang', stuckMs: 1, frames: [frame()], more: 1.5 },
    { type: 'hang', stuckMs: 1, frames: new Array(65).fill(frame()), more: 0 },
    { type: 'hang', stuckMs: 1, frames: [{ ...frame(), line: 0.5 }], more: 0 },
    { type: 'hang', stuckMs: 1, frames: [{ ...frame(), fn: 3 }], more: 0 },
    { type: 'hang', stuckMs: 1, frames: [{ ...frame(), extra: 1 }], more: 0 },
    { type: 'hang', stuckMs: 1, frames: [], more: 0, native: { state: 'SS', wchan: 'pipe_read' } },
    { type: 'hang', stuckMs: 1, frames: [], more: 0, native: { state: 'S', wchan: 'pipe read\n' } },
    { type: 'hang', stuckMs: 1, frames: [], more: 0, native: { state: 'S', wchan: 'x', why: 1 } },
  ],
  retiring: [
    { type: 'retiring' },
    { type: 'retiring', reason: 'x', signal: 'SIGKILL' },
    { type: 'retiring', reason: ['x'] },
    { type: 'retiring', reason: 'x', why: 1 },
  ],
  'prom-client:getMetricsRes': [
    { type: 'prom-client:getMetricsRes', metrics: [] },
    { type: 'prom-client:getMetricsRes', requestId: '1', metrics: [] },
    { type: 'prom-client:getMetricsRes', requestId: 1.5, metrics: [] },
    { type: 'prom-client:getMetricsRes', requestId: 1, metrics: [], extra: 1 },
  ],
};

const STATES: WorkerState[] = ['booting', 'ready', 'draining', 'stopping'];
const check = (raw: unknown, state: WorkerState = 'ready', seen: string[] = []): Verdict =>
  validateWorkerMessage(raw, state, new Set(seen));
const reasonOf = (v: Verdict) => (v.ok ? 'ok' : v.reason);

describe('worker message schemas', () => {
  for (const kind of Object.keys(SCHEMAS) as Kind[]) {
    it(`${kind}: accepted well formed, in its states only`, () => {
      const { msg, state } = VALID[kind];
      assert.deepEqual(check(msg, state), { ok: true, msg });
      // a copy off the wire, with JSON's types
      assert.deepEqual(check(JSON.parse(JSON.stringify(msg)), state), { ok: true, msg });
      for (const s of STATES) {
        const allowed = (SCHEMAS[kind].states as readonly string[]).includes(s);
        assert.equal(reasonOf(check(msg, s)), allowed ? 'ok' : 'state', `${kind} from a ${s} worker`);
      }
    });

    it(`${kind}: malformed in every state`, () => {
      for (const raw of MALFORMED[kind]) {
        for (const s of STATES) assert.equal(reasonOf(check(raw, s)), 'malformed', JSON.stringify(raw));
      }
    });
  }

  it('takes want-sockets, ready and boot-error once per worker', () => {
    for (const kind of ['want-sockets', 'ready', 'boot-error'] as const) {
      const { msg, state } = VALID[kind];
      assert.equal(reasonOf(check(msg, state, [kind])), 'state');
    }
    // heartbeats come again and again
    assert.equal(reasonOf(check(VALID.heartbeat.msg, 'ready', ['heartbeat'])), 'ok');
  });

  it('a heartbeat without stats is fine; only a live worker may send one', () => {
    const msg = { type: 'heartbeat', requests: 0, accepted: 0, rss: 0 };
    assert.deepEqual(check(msg, 'booting'), { ok: true, msg });
    assert.deepEqual(check(msg, 'draining'), { ok: true, msg });
    assert.equal(reasonOf(check(msg, 'stopping')), 'state');
  });

  it('ignores anything that is not a known kind', () => {
    for (const raw of [
      'ready',
      42,
      null,
      undefined,
      true,
      [{ type: 'ready' }],
      {},
      { type: 'app:event' },
      { type: { nested: 1 } },
      { type: 'toString' },
      { type: '__proto__' },
      { type: 'constructor' },
      { type: 'ready\n' },
      { cmd: 'NODE_CLUSTER', act: 'queryServer' },
      JSON.parse('{"__proto__": {"type": "ready"}}'),
    ]) {
      assert.equal(reasonOf(check(raw, 'booting')), 'unknown', JSON.stringify(raw));
    }
  });

  it('describes what it ignores on one line, bounded', () => {
    const v = check({ type: `x\n[CRITICAL] forged${'y'.repeat(500)}` });
    assert.ok(!v.ok);
    assert.ok(!v.why.includes('\n') && v.why.length < 100, v.why);
    assert.match(v.why, /^type 'x\\x0a\[CRITICAL\] forged/);
  });

  it('escapes and bounds worker text', () => {
    const v = check({ type: 'retiring', reason: 'a\nb\r\u0000\u001b[31m\u2028\u0085\\z' });
    assert.deepEqual(v, { ok: true, msg: { type: 'retiring', reason: 'a\\x0ab\\x0d\\x00\\x1b[31m\\u2028\\x85\\\\z' } });
    const long = check({ type: 'retiring', reason: 'x'.repeat(100_000) });
    assert.ok(long.ok && long.msg.type === 'retiring');
    assert.equal(long.msg.reason.length, MAX_TEXT + 1);
  });

  it('keeps the lines of a boot error apart, each escaped and the whole bounded', () => {
    const v = check({ type: 'boot-error', exitCode: 4, message: 'Err\nx.js:1:2\r\x1b[2J\n  ^' }, 'booting');
    assert.ok(v.ok && v.msg.type === 'boot-error');
    assert.deepEqual(v.msg.message.split('\n'), ['Err', 'x.js:1:2\\x0d\\x1b[2J', '  ^']);
    const long = check({ type: 'boot-error', exitCode: 3, message: 'x\n'.repeat(100_000) }, 'booting');
    assert.ok(long.ok && long.msg.type === 'boot-error');
    assert.ok(long.msg.message.length <= 16_001 && long.msg.message.split('\n').length <= 200);
  });

  it('escapeText leaves printable text alone', () => {
    assert.equal(escapeText("app 'x' failed: ünïcode ✓"), "app 'x' failed: ünïcode ✓");
  });
});
