// The helper thread's work (stackOnTimeout): it watches the heartbeat stamp
// the main thread writes to shared memory, and when no heartbeat has come for
// `captureAfterMs` it takes the main thread's stack through the inspector,
// before the master's timeout kills the worker. A JavaScript listener (Node's
// diagnostic report on a signal, say) never runs while JavaScript spins; the
// inspector's pause does, as V8 checks for interrupts inside any loop. A main
// thread blocked in native code (a synchronous read of a FIFO, execSync) does
// not pause: then the report gives its kernel state from /proc instead.
// Loaded only in the helper thread; the main thread never imports it.

import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';
import type { HangFrame, HangReport } from '../protocol/messages.js';
import { BEAT, type HelperData, OFF } from './hang-watch.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { writeSync, readFileSync } = process.getBuiltinModule('node:fs');

/** The first frames are what matter; a deep recursion would only fill the log. */
export const MAX_FRAMES = 32;
const MAX_NAME = 200;
const MAX_FILE = 500;

/** The subset of the inspector's Debugger.CallFrame read here. */
export interface CallFrame {
  functionName: string;
  url?: string;
  location: { scriptId: string; lineNumber: number; columnNumber?: number };
}

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s);

/** A file: URL as a path (readable in the log), anything else as it is. */
function fileOf(url: string): string {
  if (!url.startsWith('file:')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

/**
 * The frames as the report carries them: call frames carry a scriptId, and
 * the file comes from the scriptParsed events (`scripts`); lines and columns
 * count from 1.
 */
export function framesOf(
  calls: readonly CallFrame[],
  scripts: ReadonlyMap<string, string>,
): Omit<HangReport, 'type' | 'stuckMs'> {
  const frames: HangFrame[] = calls.slice(0, MAX_FRAMES).map((c) => ({
    fn: cut(c.functionName || '(anonymous)', MAX_NAME),
    file: cut(fileOf(c.url || scripts.get(c.location.scriptId) || '(unknown)'), MAX_FILE),
    line: c.location.lineNumber + 1,
    column: (c.location.columnNumber ?? 0) + 1,
  }));
  return { frames, more: Math.max(0, calls.length - MAX_FRAMES) };
}

/** The state letter of a /proc task stat line (after the command name, which may hold spaces and parentheses). */
export function taskState(stat: string): string {
  const state =
    stat
      .slice(stat.lastIndexOf(')') + 1)
      .trim()
      .split(' ')[0] ?? '';
  return /^[A-Za-z]$/.test(state) ? state : '?';
}

/** The main thread's kernel state and wait channel ('?' where /proc does not say). */
export function kernelState(pid: number): { state: string; wchan: string } {
  const read = (name: string): string => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/${name}`, 'utf8');
    } catch {
      return '';
    }
  };
  const wchan = read('wchan').trim();
  return { state: taskState(read('stat')), wchan: /^[\w.]{1,64}$/.test(wchan) ? wchan : '?' };
}

/** Milliseconds until a capture is due for the beat at `beatNs` (0 or less: due). */
export const dueInMs = (beatNs: bigint, nowNs: bigint, captureAfterMs: number): number =>
  captureAfterMs - Number(nowNs - beatNs) / 1e6;

/**
 * Pause the main thread and read its frames; null if it did not pause within
 * `budgetMs`. The session resumes, disables the debugger and disconnects
 * whatever happened, so a pause still queued behind a native call never
 * lands once the call returns.
 */
export async function pauseAndRead(budgetMs: number): Promise<Omit<HangReport, 'type' | 'stuckMs'> | null> {
  const session = new Session();
  session.connectToMainThread();
  const scripts = new Map<string, string>();
  session.on('Debugger.scriptParsed', (m) => scripts.set(m.params.scriptId, m.params.url));
  let timer: NodeJS.Timeout | undefined;
  const paused = new Promise<CallFrame[]>((resolve) =>
    session.once('Debugger.paused', (m) => resolve(m.params.callFrames as CallFrame[])),
  );
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), budgetMs)));
  try {
    session.post('Debugger.enable');
    session.post('Debugger.pause');
    const calls = await Promise.race([paused, late]);
    return calls && framesOf(calls, scripts);
  } finally {
    clearTimeout(timer);
    session.post('Debugger.resume');
    session.post('Debugger.disable');
    session.disconnect();
  }
}

/** The report on a main thread stuck for `stuckMs`: its stack, or why there is none. */
export async function report(d: HelperData, stuckMs: number): Promise<HangReport> {
  let stack: Awaited<ReturnType<typeof pauseAndRead>> = null;
  try {
    stack = await pauseAndRead(d.pauseBudgetMs);
  } catch {
    // no inspector in this build of Node: the kernel state is all there is
  }
  const base = { type: 'hang' as const, stuckMs: Math.round(stuckMs) };
  return stack ? { ...base, ...stack } : { ...base, frames: [], more: 0, native: kernelState(d.pid) };
}

/**
 * Watch the heartbeat stamp; once per stall (a stamp that stays), report.
 * One timer at a time, due when the current stamp would be late: the helper
 * wakes about as often as the heartbeat, and never while beats come.
 */
export function watchMainThread(d: HelperData): void {
  let reported = -1n;
  const check = async (): Promise<void> => {
    const beat = Atomics.load(d.shared, BEAT);
    const wait = dueInMs(beat, process.hrtime.bigint(), d.captureAfterMs);
    if (Atomics.load(d.shared, OFF) !== 0n) return; // draining: the master stops it with its own grace
    if (beat === reported) {
      // reported already: look again later for beats that say it recovered
      setTimeout(() => void check(), d.captureAfterMs / 4);
      return;
    }
    if (wait > 0) {
      setTimeout(() => void check(), Math.max(wait, 10));
      return;
    }
    reported = beat;
    const record = await report(d, d.captureAfterMs - wait);
    try {
      writeSync(d.fd, `${JSON.stringify(record)}\n`);
    } catch {
      // the master is gone, or the app closed the descriptor: nobody to tell
    }
    setTimeout(() => void check(), d.captureAfterMs / 4);
  };
  void check();
}
