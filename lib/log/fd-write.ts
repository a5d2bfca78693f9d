// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const fs = process.getBuiltinModule('node:fs');

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const MAX_WAIT_MS = 1000;

/**
 * Write `text` to fd 1 or 2 synchronously, so that a line written right before
 * process.exit() is not lost. Node puts a stdio pipe in non-blocking mode:
 * when it is full, wait for the reader a little, then leave the rest to the
 * process stream (asynchronous, so it may then be lost at exit).
 */
export function writeFdSync(fd: 1 | 2, text: string): void {
  let rest = Buffer.from(text);
  let waitedMs = 0;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(fs.writeSync(fd, rest));
    } catch (err) {
      // EPIPE, EBADF: the stream is gone and there is nowhere to report that.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      if (++waitedMs > MAX_WAIT_MS) {
        (fd === 1 ? process.stdout : process.stderr).write(rest);
        return;
      }
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}
