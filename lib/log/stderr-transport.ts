import Transport from 'winston-transport';
import { writeFdSync } from './fd-write.js';
import { MESSAGE } from './reopenable-file-transport.js';

/** The error log on stderr ('-'): synchronous, so nothing is lost at exit. */
export class StderrTransport extends Transport {
  override log(info: { [MESSAGE]: string }, next: () => void): void {
    writeFdSync(2, `${info[MESSAGE]}\n`);
    next();
  }
}
