/** A write of at most PIPE_BUF bytes to a pipe is never interleaved with another writer's. */
export const PIPE_BUF = 4096;

/**
 * How long a line may wait for others before it is written. Flushing an
 * asynchronous fs.WriteStream once per event-loop turn cost about 13% of
 * keep-alive throughput with an access log (a busy worker's turns are short,
 * so most writes carried a few lines); 20 ms cost about 6%. Lines still
 * pending at exit are written by close() or an 'exit' flush; only a SIGKILL
 * can lose them, which is why the access log uses this only when buffered
 * (see TurnLines for its default).
 */
const FLUSH_AFTER_MS = 20;

/**
 * Collects complete lines for up to FLUSH_AFTER_MS and passes them on as one
 * chunk, so that a busy process pays for one write per batch rather than one
 * per line. A chunk is at most maxBytes long unless a single line is longer,
 * and always ends on a line boundary.
 */
export class LineBatcher {
  private pending = '';
  private pendingBytes = 0;
  private scheduled = false;
  private readonly onTimer = (): void => {
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
      setTimeout(this.onTimer, FLUSH_AFTER_MS).unref();
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
