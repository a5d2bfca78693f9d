import net from 'node:net';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { closeSync, writeSync } = process.getBuiltinModule('node:fs');

/** The fd on which a daemonized master tells `tsgund start -D` how its start went. */
export const READY_FD_ENV = 'TSGUND_READY_FD';

let channel: net.Socket | null = null;
let abandoned = false;

/**
 * In the daemon: call `onGone` if the starter stops waiting before READY (it
 * was interrupted, or killed). The fd is one end of the socketpair that
 * Node's spawn makes for a 'pipe', so reading it shows when the other end
 * is shut or closed.
 */
export function watchStarter(onGone: () => void): void {
  const fd = Number(process.env[READY_FD_ENV]);
  if (!fd) return;
  // writable and half-open: a socket with both sides ended destroys itself,
  // and this fd must stay open until READY, or until exit (see reportToStarter)
  channel = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  channel.on('error', () => {}); // not readable: nothing to watch
  channel.on('end', () => {
    abandoned = true;
    onGone();
  });
  channel.resume();
  channel.unref(); // the master's own timers decide when it exits
}

/** The report's one line: a message of several lines (an app's source line and caret) keeps them as `\\n`. */
export const encodeReport = (line: string): string => line.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
export const decodeReport = (text: string): string =>
  text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));

/** Report `READY <pid>` or `ERROR <exit code> <message>` to the waiting starter, once. */
export function reportToStarter(line: string): void {
  const fd = Number(process.env[READY_FD_ENV]);
  if (!fd) return;
  delete process.env[READY_FD_ENV];
  try {
    writeSync(fd, encodeReport(line) + '\n');
  } catch {
    // the starter is gone; nobody to tell
  }
  // An interrupted starter waits for the end of the stream: it comes when
  // this process exits, so the fd stays open until then.
  if (abandoned) return;
  if (channel) channel.destroy();
  else closeSync(fd);
}

export const isDaemonChild = (): boolean => Boolean(process.env[READY_FD_ENV]);

/** The fd on which a master started by USR2 tells the old master how its start went. */
export const UPGRADE_FD_ENV = 'TSGUND_UPGRADE_FD';

/** Report `READY <pid>` or `ERROR <exit code> <message>` to the master that started this one by USR2, once. */
export function reportToOldMaster(line: string): void {
  const fd = Number(process.env[UPGRADE_FD_ENV]);
  delete process.env[UPGRADE_FD_ENV];
  if (!fd) return;
  try {
    writeSync(fd, encodeReport(line) + '\n');
    closeSync(fd);
  } catch {
    // the old master is gone; nobody to tell
  }
}
