// Log files handed from the master to a worker on USR1. The master (root)
// reopens the files and sends the fresh descriptors over a UNIX socket, one
// end of which each worker inherits at fork; so a worker never opens a log
// path itself, and its user needs no access to the log directory at all.
// Node's IPC cannot carry a regular file's descriptor, so the native addon
// does the sendmsg/recvmsg (SCM_RIGHTS). Without it (a platform without a
// prebuild, an older build) the worker reopens the path as before.
import { loadNativeAddon } from '../native-addon.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { closeSync } = process.getBuiltinModule('node:fs');

/** The logs a handover carries, in this order; the message's byte says which are there. */
const KEYS = ['errorlog', 'accesslog'] as const;
type Key = (typeof KEYS)[number];

/** Fresh descriptors by log; a log left out is not handed over. */
export type HandedLogs = Partial<Record<Key, number>>;

/** The message's byte: bit i set when KEYS[i]'s descriptor is in it. */
export function tagOf(logs: HandedLogs): { tag: number; fds: number[] } {
  let tag = 0;
  const fds: number[] = [];
  KEYS.forEach((key, i) => {
    const fd = logs[key];
    if (fd === undefined) return;
    tag |= 1 << i;
    fds.push(fd);
  });
  return { tag, fds };
}

/**
 * The logs of one received message ([tag, ...fds]), and the descriptors to
 * close: any the tag does not account for.
 */
export function decode(message: number[]): { logs: HandedLogs; extra: number[] } {
  const [tag = 0, ...fds] = message;
  const logs: HandedLogs = {};
  KEYS.forEach((key, i) => {
    if (tag & (1 << i) && fds.length > 0) logs[key] = fds.shift()!;
  });
  return { logs, extra: fds };
}

/** Whether this process can hand over or take descriptors (the addon is there, with these functions). */
export function canHandOver(): boolean {
  const { native } = loadNativeAddon();
  return typeof native?.sendFds === 'function' && typeof native.recvFds === 'function';
}

/**
 * Master: send `logs` to the worker at the other end of `socketFd`.
 * 'full' when the socket holds too many unread handovers, 'unsupported'
 * without the addon. Throws on a socket error (the worker is gone).
 */
export function handOver(socketFd: number, logs: HandedLogs): 'sent' | 'full' | 'unsupported' {
  const { native } = loadNativeAddon();
  const { tag, fds } = tagOf(logs);
  if (fds.length === 0) return 'sent';
  if (!native?.sendFds) return 'unsupported';
  return native.sendFds(socketFd, fds, tag) ? 'sent' : 'full';
}

/**
 * Worker: the logs of the newest handover waiting on `socketFd`, or null
 * when none waits (or the addon is missing). Older handovers (two USR1 in a
 * row) are closed.
 */
export function takeHandedLogs(socketFd: number): HandedLogs | null {
  const { native } = loadNativeAddon();
  if (!native?.recvFds) return null;
  let newest: HandedLogs | null = null;
  for (let message = native.recvFds(socketFd); message; message = native.recvFds(socketFd)) {
    const { logs, extra } = decode(message);
    for (const fd of [...Object.values(newest ?? {}), ...extra]) closeSync(fd);
    newest = logs;
  }
  return newest;
}
