import fs from 'node:fs';
import Transport from 'winston-transport';
import { MESSAGE } from './reopenable-file-transport.js';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const MAX_WAIT_MS = 1000;

/**
 * Writes to fd 2 synchronously, so a line logged right before process.exit()
 * is not lost. Node puts a stderr pipe in non-blocking mode: when it is full,
 * wait for the reader a little, then leave the rest to process.stderr.
 */
function writeStderrSync(text: string): void {
  let rest = Buffer.from(text);
  let waitedMs = 0;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(fs.writeSync(2, rest));
    } catch (err) {
      // EPIPE, EBADF: stderr is gone and there is nowhere to report that.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      if (++waitedMs > MAX_WAIT_MS) {
        process.stderr.write(rest);
        return;
      }
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

export class StderrTransport extends Transport {
  override log(info: { [MESSAGE]: string }, next: () => void): void {
    writeStderrSync(`${info[MESSAGE]}\n`);
    next();
  }
}
