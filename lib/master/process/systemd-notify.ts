import { spawn } from 'node:child_process';

/**
 * Tell systemd (Type=notify) about state changes. Node cannot send unix
 * datagrams and the sd-notify addon needs libsystemd headers to build, so this
 * runs systemd-notify (the unit needs NotifyAccess=all). A no-op outside systemd.
 */
export function notifySystemd(...fields: string[]): void {
  if (!process.env.NOTIFY_SOCKET) return;
  spawn('systemd-notify', [`MAINPID=${process.pid}`, ...fields], { stdio: 'ignore' }).on('error', () => {});
}
