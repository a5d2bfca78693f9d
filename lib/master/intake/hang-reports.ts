// stackOnTimeout, the master's side: the pipe each worker's helper thread
// reports a stuck main thread through (lib/worker/hang-watch.ts), read under
// a budget; and the one error record per report, of which the last few are
// kept for `tsgund status --json`. The report is worker input like any other:
// it goes through the worker message schemas (kind 'hang') before it gets here.

import type { Readable } from 'node:stream';
import type { HangRecord } from '../../protocol/status.js';
import type { ErrorLog } from '../../log/error-line.js';
import { CHANNELS } from '../../protocol/channel.js';
import { HANG_REPORT_FD } from '../../protocol/descriptors.js';
import type { HangReport } from '../../protocol/messages.js';
import type { WorkerHandle } from '../pool/worker-handle.js';

const { budget } = CHANNELS.hang;
/** A report line longer than this is not one of the helper's (32 frames of bounded text). */
export const MAX_REPORT_BYTES = budget.maxMessageBytes;
/** Reports read per worker, in all: one per stall, and a stalled worker is killed at its timeout. */
export const MAX_REPORTS = budget.messagesPerSecond * budget.burstSeconds;
/** Records kept for `status --json`. */
export const KEEP_RECORDS = 5;

/** A fork's stdio with the report pipe at HANG_REPORT_FD (the descriptors before it unused if not set). */
export function withHangPipe<T>(stdio: Array<T | 'ignore' | 'pipe'>): Array<T | 'ignore' | 'pipe'> {
  const padded = [...stdio];
  while (padded.length < HANG_REPORT_FD) padded.push('ignore');
  padded[HANG_REPORT_FD] = 'pipe';
  return padded;
}

/**
 * Read a worker's report pipe: each line, parsed as JSON (or the raw text,
 * which the schemas reject), to `deliver`. At most MAX_REPORTS lines of
 * MAX_REPORT_BYTES each; past either, the pipe is destroyed and nothing more
 * is read from it.
 */
export function readHangPipe(stream: Readable | null | undefined, deliver: (raw: unknown) => void): void {
  if (!stream) return;
  let pending = '';
  let lines = 0;
  stream.setEncoding('utf8');
  stream.on('error', () => {});
  stream.on('data', (text: string) => {
    const parts = (pending + text).split('\n');
    pending = parts.pop()!;
    for (const line of parts) {
      if (++lines > MAX_REPORTS) break;
      deliver(parseLine(line));
    }
    if (lines >= MAX_REPORTS || pending.length > MAX_REPORT_BYTES) stream.destroy();
  });
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return line;
  }
}

/** The text of a report: the frames as a stack trace, or why there is none. */
export function hangText(r: HangReport, timeoutS: number): { message: string; stack: string } {
  const head = `has sent no heartbeat for ${(r.stuckMs / 1000).toFixed(1)} s (timeout ${timeoutS} s)`;
  if (r.native) {
    return {
      message: `${head}; no JavaScript stack: its main thread did not pause, so it is blocked outside JavaScript (in a synchronous call into native code or the kernel)`,
      stack: `    main thread: state ${r.native.state} (${STATES[r.native.state] ?? 'unknown'}), wchan ${r.native.wchan}`,
    };
  }
  const lines = r.frames.map((f) => `    at ${f.fn} (${f.file}:${f.line}:${f.column})`);
  if (r.more > 0) lines.push(`    ... ${r.more} more frame(s)`);
  return { message: `${head}; its main thread's stack:`, stack: lines.join('\n') };
}

/** The state letters of proc(5). */
const STATES: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'uninterruptible wait',
  T: 'stopped',
  t: 'traced',
  Z: 'zombie',
};

/** One error record per report, and the last few for `status --json`. */
export class HangReports {
  readonly recent: HangRecord[] = [];

  constructor(private readonly log: () => ErrorLog) {}

  record(h: WorkerHandle, r: HangReport): void {
    const { timeout } = h.gen.settings;
    const { message, stack } = hangText(r, timeout);
    const detail = new Error(message);
    detail.stack = stack;
    this.log().error(`Worker ${h.pid} (generation ${h.generation}) ${message}`, detail);
    this.recent.push({
      pid: h.pid,
      generation: h.generation,
      slot: h.slot,
      at: new Date().toISOString(),
      stuckMs: r.stuckMs,
      frames: r.frames,
      more: r.more,
      ...(r.native ? { native: r.native } : {}),
    });
    if (this.recent.length > KEEP_RECORDS) this.recent.shift();
  }
}
