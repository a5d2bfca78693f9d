// What a worker may tell the master, checked before the master acts on it.
//
// The app runs in the workers, often as another user, and can send anything
// over the IPC channel with process.send(): every message is untrusted input.
// One schema per kind in WorkerToMaster (a table keyed by kind, so a kind
// without a schema is a compile error): the fields it may carry, their types
// and ranges, and the worker states in which the master listens to it.
// Text is bounded and escaped here, once (worker-text.ts), so that nothing a
// worker says can start a line of the master's log, of `tsgund status` or of
// /metrics: the master gets its messages typed with WorkerText.
// A leaf module: types and constants only.

import { DURATION_BUCKETS, PROTOCOLS, STATUS_CLASSES, type RequestDelta } from './request-metrics.js';
import type { HangFrame, HangReport, RuntimeSample, WorkerToMaster } from './messages.js';
import type { WorkerState } from './messages.js';
import { RawWorkerText, type WorkerText, escapeText, quote } from '../worker-text.js';

/** A message from a worker as the master acts on it: checked, its text escaped. */
export type CheckedMessage = WorkerToMaster<WorkerText>;
export type WorkerMessageKind = CheckedMessage['type'];
type MessageOf<K extends WorkerMessageKind> = Extract<CheckedMessage, { type: K }>;

/** Why a message was not acted upon: the label of tsgund_worker_messages_ignored_total. */
export const IGNORE_REASONS = ['unknown', 'malformed', 'state', 'internal', 'bind'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

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

/** A hang report: frames (the helper sends 32 at most), and the text of each. */
const MAX_FRAMES = 64;
const MAX_FRAME_TEXT = 500;
/** Lines and columns of a frame, and how long a worker was stuck (ms): within a timer's range. */
const MAX_POSITION = 2 ** 31 - 1;
/** GC time a worker can have spent, in ms: a year of it. */
const MAX_SECONDS_MS = 365 * 24 * 3600 * 1000;

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
const text = (v: unknown): WorkerText | null => RawWorkerText.of(v)?.escaped() ?? null;

/**
 * A bounded report of several lines: each line escaped on its own, so the
 * report keeps its shape while no line can carry a control character.
 */
const report = (v: unknown): WorkerText | null =>
  (RawWorkerText.of(v, MAX_REPORT)?.lines(MAX_REPORT_LINES).join('\n') as WorkerText | undefined) ?? null;

/** The fields of a runtime sample and the largest value each may have (all finite and at least 0). */
const RUNTIME_RANGES: Record<keyof RuntimeSample, number> = {
  delayP50: MAX_POSITION,
  delayP99: MAX_POSITION,
  delayMax: MAX_POSITION,
  utilization: 1,
  heapUsed: MAX_RSS,
  heapLimit: MAX_RSS,
  gcMs: MAX_SECONDS_MS,
  connections: MAX_POSITION,
};

function checkRuntime(v: unknown): RuntimeSample | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'runtime is not an object';
  const r = v as Fields;
  for (const key in r) if (!Object.hasOwn(RUNTIME_RANGES, key)) return `runtime has key ${quote(key)}`;
  for (const [key, max] of Object.entries(RUNTIME_RANGES)) {
    const n = r[key];
    if (typeof n !== 'number' || !(n >= 0 && n <= max)) return `runtime.${key} is out of range`;
  }
  return r as unknown as RuntimeSample;
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

/** A short escaped text, cut at `max` characters; null if not a string. */
function shortText(v: unknown, max: number): WorkerText | null {
  if (typeof v !== 'string') return null;
  return escapeText(v.length > max ? `${v.slice(0, max)}…` : v);
}

function checkFrame(v: unknown): HangFrame<WorkerText> | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'a frame is not an object';
  const f = v as Fields;
  for (const key in f) if (!['fn', 'file', 'line', 'column'].includes(key)) return `a frame has key ${quote(key)}`;
  const fn = shortText(f.fn, MAX_FRAME_TEXT);
  const file = shortText(f.file, MAX_FRAME_TEXT);
  if (fn === null || file === null) return 'a frame has no fn or file';
  if (!isCount(f.line, MAX_POSITION) || !isCount(f.column, MAX_POSITION)) return 'a frame has no line or column';
  return { fn, file, line: f.line, column: f.column };
}

function checkNative(v: unknown): HangReport<WorkerText>['native'] | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'native is not an object';
  const { state, wchan, ...rest } = v as Fields;
  if (Object.keys(rest).length) return 'native has other keys';
  if (typeof state !== 'string' || !/^[A-Za-z?]$/.test(state)) return 'native.state is not a state letter';
  if (typeof wchan !== 'string' || !/^[\w.?]{1,64}$/.test(wchan)) return 'native.wchan is not a wait channel';
  // both matched a pattern of plain characters above: nothing to escape
  return { state: state as WorkerText, wchan: wchan as WorkerText };
}

function checkHang(m: Fields): HangReport<WorkerText> | string {
  if (!isCount(m.stuckMs, MAX_POSITION) || !isCount(m.more, MAX_POSITION)) return 'stuckMs or more is not a count';
  if (!Array.isArray(m.frames) || m.frames.length > MAX_FRAMES) return `frames is not a list of at most ${MAX_FRAMES}`;
  const frames: HangFrame<WorkerText>[] = [];
  for (const raw of m.frames) {
    const frame = checkFrame(raw);
    if (typeof frame === 'string') return frame;
    frames.push(frame);
  }
  const report: HangReport<WorkerText> = { type: 'hang', stuckMs: m.stuckMs, frames, more: m.more };
  if (m.native === undefined) return frames.length ? report : 'neither frames nor native';
  const native = checkNative(m.native);
  return typeof native === 'string' ? native : { ...report, native };
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
    keys: ['requests', 'accepted', 'rss', 'stats', 'runtime'],
    states: LIVE,
    check: (m) => {
      if (!isCount(m.requests) || !isCount(m.accepted)) return 'requests or accepted is not a count';
      if (!isCount(m.rss, MAX_RSS)) return 'rss is out of range';
      const beat: MessageOf<'heartbeat'> = {
        type: 'heartbeat',
        requests: m.requests,
        accepted: m.accepted,
        rss: m.rss,
      };
      if (m.stats !== undefined) {
        const stats = checkDelta(m.stats);
        if (typeof stats === 'string') return stats;
        beat.stats = stats;
      }
      if (m.runtime !== undefined) {
        const runtime = checkRuntime(m.runtime);
        if (typeof runtime === 'string') return runtime;
        beat.runtime = runtime;
      }
      return beat;
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
  // from the helper thread's pipe (master/hang-reports.ts), which also bounds how many
  hang: { keys: ['stuckMs', 'frames', 'more', 'native'], states: ['ready', 'draining'], check: checkHang },
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

export type Verdict = { ok: true; msg: CheckedMessage } | { ok: false; reason: IgnoreReason; why: string };

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
export function describe(raw: unknown): WorkerText | string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'string') return `the string ${quote(raw)}`;
  if (typeof raw !== 'object') return `a ${typeof raw}`;
  const type = (raw as Fields).type;
  return type === undefined
    ? 'an object without a type'
    : `type ${typeof type === 'string' ? quote(type) : typeof type}`;
}
