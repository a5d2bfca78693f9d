/** A write of at most PIPE_BUF bytes to a pipe is never interleaved with another writer's. */
export const PIPE_BUF = 4096;

/**
 * Collects complete lines during one event-loop turn and passes them on as
 * one chunk, so that a busy process pays for one write per turn rather than
 * one per line. A chunk is at most maxBytes long unless a single line is
 * longer, and always ends on a line boundary.
 */
export class LineBatcher {
  private pending = '';
  private pendingBytes = 0;
  private scheduled = false;
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly sink: (chunk: string) => void,
    public maxBytes: number,
  ) {}

  add(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.pendingBytes + bytes > this.maxBytes) this.flush();
    this.pending += line;
    this.pendingBytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
  }

  flush(): void {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.pendingBytes = 0;
    this.sink(chunk);
  }
}
