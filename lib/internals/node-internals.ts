// Node's internals that tsgund relies on, in one room.
//
// The guards at the worker boundary sit below node:cluster's public API: the
// IPC channel is read before any listener runs, and trusts the other end.
// Every private field and symbol tsgund reads is named here, each with what
// it is; each is checked when it is first needed, and a missing one stops the
// process with one line naming the Node version and the missing piece, never
// a guard that silently falls away. `engines` in package.json caps Node at
// the majors whose internals were checked (22, 24 and 26).
//   child[Symbol(kChannelHandle)]   a forked child's IPC channel: a Pipe handle
//   pipe.onread(arrayBuffer)        its read callback: the ArrayBuffer holds exactly
//                                   the bytes read (undefined at EOF)
//   pipe.readStop(), readStart()    stop and restart reading it (backpressure)
//   pipe[Symbol(kJSONBuffer)]       the text read since the last newline, not yet parsed
//   pipe[Symbol(kStringDecoder)]    its UTF-8 decoder; Node makes a new one when it is undefined
//   child._handleQueue              an array while a handle sent awaits its acknowledgement
// A leaf module: it imports only the leaf errors.ts.
import { spawn } from 'node:child_process';
import { UserError } from '../errors.js';

/** A guard cannot be installed on this Node: the process must not run without it (one line, exit 1). */
export class MissingInternalError extends UserError {
  constructor(what: string) {
    super(`Node ${process.version} lacks ${what}, which tsgund needs to guard its workers; use Node 22, 24 or 26`, 1);
  }
}

/** The IPC channel's Pipe handle, as far as tsgund uses it. */
export interface ChannelPipe {
  onread: (this: ChannelPipe, buf?: ArrayBuffer) => unknown;
  readStop(): number;
  readStart(): number;
  [key: symbol]: unknown;
}

const symbolNamed = (o: object, name: string): symbol | undefined =>
  Object.getOwnPropertySymbols(o).find((s) => s.description === name);

/** The keys of the channel's unparsed text and of its decoder. */
export interface ChannelKeys {
  jsonBuffer: symbol;
  decoder: symbol;
}

/** The channel's handle and the keys of its unparsed text and decoder; throws MissingInternalError. */
export function channelPipe(child: object): { pipe: ChannelPipe } & ChannelKeys {
  const handleKey = symbolNamed(child, 'kChannelHandle');
  if (!handleKey) throw new MissingInternalError("node:child_process's kChannelHandle (the IPC channel's handle)");
  const pipe = (child as Record<symbol, ChannelPipe | undefined>)[handleKey];
  if (!pipe || typeof pipe.onread !== 'function') throw new MissingInternalError("the IPC channel's onread callback");
  if (typeof pipe.readStop !== 'function' || typeof pipe.readStart !== 'function')
    throw new MissingInternalError("the IPC channel's readStop and readStart");
  const jsonBuffer = symbolNamed(pipe, 'kJSONBuffer');
  if (!jsonBuffer) throw new MissingInternalError("the IPC channel's kJSONBuffer (its unparsed text)");
  const decoder = symbolNamed(pipe, 'kStringDecoder');
  if (!decoder) throw new MissingInternalError("the IPC channel's kStringDecoder");
  return { pipe, jsonBuffer, decoder };
}

/** Node asserts that an acknowledgement answers a handle it sent: one that answers nothing would throw. */
export const hasPendingHandle = (child: object): boolean =>
  Array.isArray((child as { _handleQueue?: unknown })._handleQueue);

/** Whether `_handleQueue` is where Node keeps it (null or an array on a forked child with a channel). */
export function checkHandleQueue(child: object): void {
  const queue = (child as { _handleQueue?: unknown })._handleQueue;
  if (queue !== null && !Array.isArray(queue))
    throw new MissingInternalError("node:child_process's _handleQueue (handles awaiting acknowledgement)");
}

/**
 * At the master's start: whether a child's IPC channel has every internal
 * the guard reads. A child with a channel is spawned (`node --version`, which
 * exits at once; its channel exists from the spawn on) and let go.
 */
export function checkMasterInternals(): void {
  const child = spawn(process.execPath, ['--version'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  child.on('error', () => {}); // it exits on its own; only its channel mattered
  try {
    channelPipe(child);
    checkHandleQueue(child);
  } finally {
    child.disconnect();
    child.unref();
  }
}
