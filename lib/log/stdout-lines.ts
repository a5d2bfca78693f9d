/** Writes up to this many bytes at once: a pipe write of at most PIPE_BUF is atomic. */
const PIPE_BUF = 4096;

/**
 * Batches complete lines for process.stdout within one event-loop turn, so a
 * busy worker makes one write per turn instead of one per request. A batch
 * never exceeds PIPE_BUF (unless one line alone does), so lines from several
 * workers sharing a pipe are never interleaved.
 */
export class StdoutLines {
  private pending = '';
  private pendingBytes = 0;
  private scheduled = false;
  private closed = false;
  private readonly flush = (): void => {
    if (this.pending === '') return;
    process.stdout.write(this.pending);
    this.pending = '';
    this.pendingBytes = 0;
  };
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor() {
    // stdout to a file or pipe is written synchronously on Linux, so this
    // saves the lines of the last turn when the process exits abruptly.
    process.on('exit', this.flush);
  }

  write(line: string): void {
    if (this.closed) return;
    const bytes = Buffer.byteLength(line);
    if (this.pendingBytes + bytes > PIPE_BUF) this.flush();
    this.pending += line;
    this.pendingBytes += bytes;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
  }

  /** stdout is not ours to reopen. */
  reopen(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    this.flush();
    process.off('exit', this.flush);
    return new Promise((resolve) => process.stdout.write('', () => resolve()));
  }
}
