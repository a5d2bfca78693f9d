// What a worker may tell the master, checked before the master acts on it.
//
// The app runs in the workers, often as another user, and can send anything
// over the IPC channel with process.send(): every message is untrusted input.
// One schema per kind in WorkerToMaster (a table keyed by kind, so a kind
// without a schema is a compile error): the fields it may carry, their types
// and ranges, and the worker states in which the master listens to it.
// Text is bounded and escaped here, once, so that nothing a worker says can
// start a line of the master's log, of `tsgund status` or of /metrics.
// A leaf module: types and constants only.

import { DURATION_BUCKETS, PROTOCOLS, STATUS_CLASSES, type RequestDelta } from './request-metrics.js';
import type { WorkerToMaster } from './messages.js';
import type { WorkerState } from './messages.js';

export type WorkerMessageKind = WorkerToMaster['type'];
type MessageOf<K extends WorkerMessageKind> = Extract<WorkerToMaster, { type: K }>;

/** Why a message was not acted upon: the label of tsgund_worker_messages_ignored_total. */
export const IGNORE_REASONS = ['unknown', 'malformed', 'state', 'internal', 'bind', 'rate'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

/** Worker text (a retiring reason, a line of a boot error) is cut to this many characters. */
export const MAX_TEXT = 2000;
/** A boot error is a report of several lines (the source line and a caret, the stack at debug). */
const MAX_REPORT = 16_000;
const MAX_REPORT_LINES = 200;
/** Counts in a heartbeat: safe integers, and no more than a worker could plausibly reach. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** 1 TiB: no worker's resident memory is larger. */
const MAX_RSS = 2 ** 40;
/** Requests in one heartbeat's delta, per status class or bucket. */
const MAX_DELTA = 2 ** 32;
/** Seconds summed in one delta (MAX_DELTA requests of an hour each). */
const MAX_DELTA_SECONDS = MAX_DELTA * 3600;

type Fields = Record<string, unknown>;

interface Schema<K extends WorkerMessageKind> {
  /** Keys besides `type`: any other key makes the message malformed. */
  keys: readonly string[];
  /** The worker states in which the master acts on it. */
  states: readonly WorkerState[];
  /** At most once per worker. */
  once?: boolean;
  /** The typed message, or why the fields are wrong. */
  check(m: Fields): MessageOf<K> | string;
}

const LIVE: readonly WorkerState[] = ['booting', 'ready', 'draining'];

const isCount = (v: unknown, max = MAX_COUNT): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= max;

/** A bounded, escaped copy of worker text; null if it is not a string. */
function text(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  return escapeText(v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT)}…` : v);
}

/**
 * A bounded report of several lines: each line escaped on its own, so the
 * report keeps its shape while no line can carry a control character.
 */
function report(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const cut = v.length > MAX_REPORT ? `${v.slice(0, MAX_REPORT)}…` : v;
  return cut.split('\n', MAX_REPORT_LINES).map(escapeText).join('\n');
}

function checkDelta(v: unknown): RequestDelta | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'stats is not an object';
  const d = v as Fields;
  for (const key in d)
    if (key !== 'classes' && key !== 'buckets' && key !== 'sum' && key !== 'protocols')
      return `stats has key ${quote(key)}`;
  const counts = (a: unknown, n: number): a is number[] =>
    Array.isArray(a) && a.length === n && a.every((x) => isCount(x, MAX_DELTA));
  if (!counts(d.classes, STATUS_CLASSES.length)) return 'stats.classes is not a list of counts';
  if (!counts(d.buckets, DURATION_BUCKETS.length + 1)) return 'stats.buckets is not a list of counts';
  if (typeof d.sum !== 'number' || !(d.sum >= 0 && d.sum <= MAX_DELTA_SECONDS)) return 'stats.sum is out of range';
  if (d.protocols === undefined) return { classes: d.classes, buckets: d.buckets, sum: d.sum };
  if (!counts(d.protocols, PROTOCOLS.length)) return 'stats.protocols is not a list of counts';
  return { classes: d.classes, buckets: d.buckets, sum: d.sum, protocols: d.protocols };
}

/** One schema per kind of message: adding a kind to WorkerToMaster without one here does not compile. */
export const SCHEMAS: { [K in WorkerMessageKind]: Schema<K> } = {
  'want-sockets': { keys: [], states: ['booting'], once: true, check: () => ({ type: 'want-sockets' }) },
  ready: {
    keys: ['tls'],
    states: ['booting'],
    once: true,
    check: (m) =>
      m.tls === undefined ? { type: 'ready' } : m.tls === true ? { type: 'ready', tls: true } : 'tls is not true',
  },
  'boot-error': {
    keys: ['exitCode', 'message'],
    states: ['booting'],
    once: true,
    check: (m) => {
      const message = report(m.message);
      if (!Number.isInteger(m.exitCode) || (m.exitCode as number) < 1 || (m.exitCode as number) > 125)
        return 'exitCode is not an exit code (1-125)';
      if (message === null) return 'message is not a string';
      return { type: 'boot-error', exitCode: m.exitCode as number, message };
    },
  },
  heartbeat: {
    keys: ['requests', 'accepted', 'rss', 'stats'],
    states: LIVE,
    check: (m) => {
      if (!isCount(m.requests) || !isCount(m.accepted)) return 'requests or accepted is not a count';
      if (!isCount(m.rss, MAX_RSS)) return 'rss is out of range';
      if (m.stats === undefined) return { type: 'heartbeat', requests: m.requests, accepted: m.accepted, rss: m.rss };
      const stats = checkDelta(m.stats);
      if (typeof stats === 'string') return stats;
      return { type: 'heartbeat', requests: m.requests, accepted: m.accepted, rss: m.rss, stats };
    },
  },
  'prom-client:getMetricsRes': {
    keys: ['requestId', 'metrics', 'error'],
    states: LIVE,
    // the size is bounded by the channel guard; the metrics themselves by app-metrics.ts, which reads them
    check: (m) =>
      Number.isSafeInteger(m.requestId)
        ? { type: 'prom-client:getMetricsRes', requestId: m.requestId as number, metrics: m.metrics, error: m.error }
        : 'requestId is not an integer',
  },
  retiring: {
    keys: ['reason', 'signal'],
    // a worker TERMed by the master says so too (it cannot tell who sent the signal): heard, and nothing new
    states: ['booting', 'ready', 'draining'],
    check: (m) => {
      const reason = text(m.reason);
      if (reason === null) return 'reason is not a string';
      if (m.signal === undefined) return { type: 'retiring', reason };
      return m.signal === 'SIGTERM' ? { type: 'retiring', reason, signal: 'SIGTERM' } : 'signal is not SIGTERM';
    },
  },
};

export type Verdict = { ok: true; msg: WorkerToMaster } | { ok: false; reason: IgnoreReason; why: string };

const ignore = (reason: IgnoreReason, why: string): Verdict => ({ ok: false, reason, why });

/**
 * Check a message from a worker in state `state` that has already sent the
 * kinds in `seen`. Never throws; reads only the keys a schema names (plus a
 * check that there are no others), so its cost is bounded by the message.
 */
export function validateWorkerMessage(raw: unknown, state: WorkerState, seen: ReadonlySet<string>): Verdict {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return ignore('unknown', describe(raw));
  const m = raw as Fields;
  const kind = m.type;
  if (typeof kind !== 'string' || !Object.hasOwn(SCHEMAS, kind)) return ignore('unknown', describe(raw));
  const schema = SCHEMAS[kind as WorkerMessageKind] as Schema<WorkerMessageKind>;
  for (const key in m) {
    if (key !== 'type' && !schema.keys.includes(key)) return ignore('malformed', `'${kind}' with key ${quote(key)}`);
  }
  const checked = schema.check(m);
  if (typeof checked === 'string') return ignore('malformed', `'${kind}': ${checked}`);
  if (!schema.states.includes(state)) return ignore('state', `'${kind}' from a worker that is ${state}`);
  if (schema.once && seen.has(kind)) return ignore('state', `'${kind}' a second time`);
  return { ok: true, msg: checked };
}

/** A short, escaped description of an unknown message for the debug line. */
export function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'string') return `the string ${quote(raw)}`;
  if (typeof raw !== 'object') return `a ${typeof raw}`;
  const type = (raw as Fields).type;
  return type === undefined
    ? 'an object without a type'
    : `type ${typeof type === 'string' ? quote(type) : typeof type}`;
}

/** Worker text in quotes, cut short and escaped. */
export const quote = (s: string): string => `'${escapeText(s.length > 60 ? `${s.slice(0, 60)}…` : s)}'`;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
const UNSAFE = /[\\\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * Control characters (newlines included, C1 and the Unicode line separators)
 * as \xNN or \uNNNN, and '\' as '\\' so that the escape is unambiguous: the
 * text stays on one line, whatever it contains.
 */
export function escapeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}
