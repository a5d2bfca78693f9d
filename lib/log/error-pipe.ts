// The error-log pipe: when the error log has transports beside tsgund's file
// (syslog, a config's winston transports), a worker writes its entries as JSON
// lines to a pipe the master reads, and the master logs each through winston
// under the worker's pid. A leaf module: the worker loads only node:net here.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { RawWorkerText, escapeText } from '../worker-text.js';
import {
  type ErrorLog,
  type ErrorLogOptions,
  LEVELS,
  type LogLevel,
  type WorkerEntry,
  createDirectErrorLog,
} from './error-line.js';
import { LineFile } from './line-file.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { closeSync } = process.getBuiltinModule('node:fs');
const net = process.getBuiltinModule('node:net');
const { finished } = process.getBuiltinModule('node:stream');

/** What a worker holds for a master that does not read before it drops lines (counted, reported once read again). */
export const PIPE_BACKLOG_BYTES = 4 * 1024 * 1024;
/** The longest line the master takes from a worker; the rest of a longer one is dropped. */
export const MAX_PIPE_LINE = 64 * 1024;

/**
 * A worker's end: a non-blocking socket, so a write never waits for the
 * master. Node writes at once what the kernel buffer takes (so a line written
 * before a SIGKILL is in the pipe) and queues the rest, up to PIPE_BACKLOG_BYTES.
 */
export class PipeLineWriter {
  private readonly socket: Socket;
  private dropped = 0;

  constructor(fd: number) {
    this.socket = new net.Socket({ fd, readable: false, writable: true });
    this.socket.unref();
    // the master is gone: the worker leaves on 'disconnect', nowhere to report this
    this.socket.on('error', () => {});
    this.socket.on('drain', () => this.reportDrops());
  }

  /** line must be one complete line ending in '\n'. */
  write(line: string): void {
    if (this.socket.destroyed) return;
    if (this.socket.writableLength > PIPE_BACKLOG_BYTES) this.dropped++;
    else this.socket.write(line);
  }

  /** The pipe is not a path: nothing to reopen (the master reopens its transports). */
  reopen(handed?: number): void {
    if (handed !== undefined) closeSync(handed);
  }

  /** Ends the pipe once what the worker holds is written (or the master is gone). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      finished(this.socket, () => resolve());
      this.socket.end();
    });
  }

  private reportDrops(): void {
    if (this.dropped === 0) return;
    const msg = `${this.dropped} error-log line(s) dropped: the master did not read them in time`;
    this.dropped = 0;
    this.socket.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'warning', msg })}\n`);
  }
}

/** A worker's error log: into the file (or stderr) at `fd`, or as JSON lines into the pipe at `fd`. */
export function createWorkerErrorLog(opts: ErrorLogOptions, fd: number, piped: boolean): ErrorLog {
  if (!piped) return createDirectErrorLog(opts, LineFile.inherited(fd, opts.errorlog));
  return createDirectErrorLog({ ...opts, logFormat: 'json' }, new PipeLineWriter(fd));
}

const cut = (text: string): string => (text.length > MAX_PIPE_LINE ? text.slice(0, MAX_PIPE_LINE) : text);

/** A line of a worker's pipe, as the master logs it (the master adds the pid: it knows whose pipe it is). */
export type PipeEntry = Omit<WorkerEntry, 'pid'>;

/** Lines in a stack from a pipe: Node's default stack has 10 frames. */
const MAX_STACK_LINES = 100;

/**
 * One line from a worker's pipe as an entry. The line is untrusted (the app
 * runs in the worker and may write to the pipe itself): anything that is not
 * a well-formed entry is logged as an error line holding the text, and all
 * text is escaped (worker-text.ts), the stack line by line.
 */
export function parsePipeLine(line: string): PipeEntry {
  const raw = { level: 'error' as const, message: escapeText(cut(line)) };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return raw;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return raw;
  const { level, msg, stack, time } = value as Record<string, unknown>;
  const message = RawWorkerText.of(msg, MAX_PIPE_LINE);
  if (typeof level !== 'string' || !Object.hasOwn(LEVELS, level) || message === null) return raw;
  if (stack !== undefined && typeof stack !== 'string') return raw;
  const at = typeof time === 'string' ? new Date(time) : null;
  return {
    level: level as LogLevel,
    message: message.escaped(),
    stack: RawWorkerText.of(stack, MAX_PIPE_LINE)?.lines(MAX_STACK_LINES),
    time: at && !Number.isNaN(at.getTime()) ? at : undefined,
  };
}

/** Splits a stream of text into lines, each cut at MAX_PIPE_LINE characters. */
export class LineSplitter {
  private pending = '';
  /** Past MAX_PIPE_LINE in the current line: drop text until its end. */
  private skipping = false;

  push(text: string): string[] {
    const parts = (this.pending + text).split('\n');
    this.pending = parts.pop()!;
    const lines: string[] = [];
    for (const part of parts) {
      if (!this.skipping) lines.push(cut(part));
      this.skipping = false;
    }
    if (this.pending.length > MAX_PIPE_LINE) {
      if (!this.skipping) lines.push(cut(this.pending));
      this.pending = '';
      this.skipping = true;
    }
    return lines;
  }

  /** A last line without its newline (a worker killed mid-write). */
  end(): string[] {
    const rest = this.skipping || this.pending === '' ? [] : [this.pending];
    this.pending = '';
    return rest;
  }
}

/**
 * Reads a worker's pipe to its end (after the worker exited too), each entry
 * to `onEntry`; after each chunk, its length and number of lines to `spent`
 * (where the master meters its budget, and may pause the stream); resolves at the end.
 * The stream is read a chunk at a time, and each chunk's lines are handled
 * before the next: paused, the stream holds no more than its highWaterMark.
 */
export function readPipe(
  stream: Readable,
  onEntry: (entry: PipeEntry) => void,
  spent: (chars: number, lines: number) => void = () => {},
): Promise<void> {
  const lines = new LineSplitter();
  const take = (all: string[]): void => {
    for (const line of all) if (line !== '') onEntry(parsePipeLine(line));
  };
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const all = lines.push(text);
    take(all);
    spent(text.length, all.length);
  });
  return new Promise((resolve) => {
    stream.once('close', () => {
      take(lines.end());
      resolve();
    });
    stream.on('error', () => {}); // 'close' follows
  });
}
