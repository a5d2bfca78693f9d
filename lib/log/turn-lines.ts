import type { Socket } from 'node:net';
import { hold, release } from './socket-hold.js';

/**
 * The lines of the responses ended during one turn of the event loop. Each
 * response's socket is held (corked) when its line is added; at the end of
 * the turn (setImmediate: after every I/O callback of the poll phase) the
 * lines go to `write` in as few synchronous writes as `maxBytes()` allows,
 * and only then are the sockets released. So a line is in the kernel before
 * the last bytes of its response are, and a busy process makes one write(2)
 * per turn instead of one per request.
 */
export class TurnLines {
  private pending = '';
  private pendingBytes = 0;
  private readonly held: Socket[] = [];
  private scheduled = false;
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly write: (chunk: string) => void,
    /** The most a write may carry (a pipe keeps a write whole only up to PIPE_BUF); a longer line goes alone. */
    private readonly maxBytes: () => number,
    private readonly schedule: (fn: () => void) => void = setImmediate,
  ) {}

  /** `line` is the line of a response about to end on `socket`; null: nothing to hold, write it at once. */
  add(line: string, socket: Socket | null): void {
    if (socket === null) {
      this.flush();
      this.write(line);
      return;
    }
    hold(socket);
    this.held.push(socket);
    const bytes = Buffer.byteLength(line);
    if (this.pendingBytes + bytes > this.maxBytes()) this.writePending();
    this.pending += line;
    this.pendingBytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.onTurnEnd);
    }
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
    this.write(chunk);
  }
}
