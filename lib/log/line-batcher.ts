import type { Socket } from 'node:net';
import { hold, release } from './socket-hold.js';

/** A write of at most PIPE_BUF bytes to a pipe is never interleaved with another writer's. */
export const PIPE_BUF = 4096;

/**
 * How long a line may wait for others before it is written, when batched for
 * throughput (a buffered access log, a batched error log). Flushing an
 * asynchronous fs.WriteStream once per event-loop turn cost about 13% of
 * keep-alive throughput with an access log (a busy worker's turns are short,
 * so most writes carried a few lines); 20 ms cost about 6%. Lines still
 * pending at exit are written by close() or an 'exit' flush; only a SIGKILL
 * can lose them.
 */
const FLUSH_AFTER_MS = 20;

/** When a batch is written: after FLUSH_AFTER_MS, for throughput. */
export const afterDelay = (fn: () => void): void => void setTimeout(fn, FLUSH_AFTER_MS).unref();

/**
 * When a batch is written: at the end of this turn of the event loop
 * (setImmediate: after every I/O callback of the poll phase), so that a line
 * is in the kernel before the last bytes of its response are (see add()).
 */
export const atTurnEnd = (fn: () => void): void => void setImmediate(fn);

/**
 * Collects complete lines and passes them to `sink` in as few chunks as
 * `maxBytes()` allows, each ending on a line boundary (a longer line goes
 * alone), when `schedule` says: one write per batch rather than one per line.
 *
 * A line may come with the socket of the response it logs: the socket is held
 * (corked) until the batch is written, so a client never has its whole
 * response before its line is written, and a SIGKILL after the response
 * cannot lose the line.
 */
export class LineBatcher {
  private pending = '';
  private pendingBytes = 0;
  private readonly held: Socket[] = [];
  private scheduled = false;
  private readonly onSchedule = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly sink: (chunk: string) => void,
    /** The most a write may carry (a pipe keeps a write whole only up to PIPE_BUF). */
    private readonly maxBytes: () => number,
    private readonly schedule: (fn: () => void) => void = afterDelay,
  ) {}

  /** `line`: one or more complete lines; `socket`: the response it logs, held until the line is written. */
  add(line: string, socket: Socket | null = null): void {
    if (socket !== null) {
      hold(socket);
      this.held.push(socket);
    }
    const bytes = Buffer.byteLength(line);
    if (this.pendingBytes + bytes > this.maxBytes()) this.writePending();
    this.pending += line;
    this.pendingBytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.onSchedule);
    }
  }

  /** Writes what is pending, then `line` at once: a line with no socket to hold waits for nothing. */
  writeNow(line: string): void {
    this.flush();
    this.sink(line);
  }

  /** Writes every pending line, then releases the sockets held for them. */
  flush(): void {
    try {
      this.writePending();
    } finally {
      // whatever happened to the lines, a held response must not hang
      for (const socket of this.held) release(socket);
      this.held.length = 0;
    }
  }

  private writePending(): void {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.pendingBytes = 0;
    this.sink(chunk);
  }
}
