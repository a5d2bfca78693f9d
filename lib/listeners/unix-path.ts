import { errnoOf as errno } from '../errors.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { lstatSync, unlinkSync } = process.getBuiltinModule('node:fs');
const net = process.getBuiltinModule('node:net');

/** Does a process accept connections on the unix socket at `path`? */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Make `path` free for a new unix socket: a socket file nobody answers on (left
 * by a process that died) is removed. Returns null when the path is free, or
 * why it is not: 'EADDRINUSE' (someone serves there), 'ENOTSOCK' (another kind
 * of file) or the errno of a failed check or removal.
 */
export async function freeSocketPath(path: string): Promise<string | null> {
  try {
    if (!lstatSync(path).isSocket()) return 'ENOTSOCK';
  } catch (err) {
    return errno(err) === 'ENOENT' ? null : errno(err);
  }
  if (await socketAnswers(path)) return 'EADDRINUSE';
  try {
    unlinkSync(path);
    return null;
  } catch (err) {
    return errno(err);
  }
}
