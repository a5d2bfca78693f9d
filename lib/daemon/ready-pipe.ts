import { closeSync, writeSync } from 'node:fs';

/** The fd on which a daemonized master tells `tsgund start -D` how its start went. */
export const READY_FD_ENV = 'TSGUND_READY_FD';

/** Report `READY <pid>` or `ERROR <exit code> <message>` to the waiting starter, once. */
export function reportToStarter(line: string): void {
  const fd = Number(process.env[READY_FD_ENV]);
  if (!fd) return;
  delete process.env[READY_FD_ENV];
  try {
    writeSync(fd, line.replace(/\n/g, ' ') + '\n');
    closeSync(fd);
  } catch {
    // the starter is gone; nobody to tell
  }
}

export const isDaemonChild = (): boolean => Boolean(process.env[READY_FD_ENV]);
