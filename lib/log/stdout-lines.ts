import { writeFdSync } from './fd-write.js';
import { LineBatcher, PIPE_BUF } from './line-batcher.js';

/**
 * Access-log lines for process.stdout, batched (see LineBatcher) in chunks
 * of at most PIPE_BUF, so lines from workers sharing one pipe stay whole.
 */
export class StdoutLines {
  // one synchronous write per batch: no line is lost at exit, none reordered
  private readonly batch = new LineBatcher((chunk) => writeFdSync(1, chunk), PIPE_BUF);
  private readonly flush = (): void => this.batch.flush();
  private closed = false;

  constructor() {
    // saves the lines of the last batch when the process exits abruptly
    process.on('exit', this.flush);
  }

  write(line: string): void {
    if (!this.closed) this.batch.add(line);
  }

  /** stdout is not ours to reopen. */
  reopen(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    this.flush();
    process.off('exit', this.flush);
    return Promise.resolve();
  }
}
