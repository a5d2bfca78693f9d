// The master's side of a worker's IPC channel, below tsgund's own messages.
//
// Node reads and acts on a worker's channel before any listener of tsgund
// runs, and trusts the other end. An app can write to it directly
// (process.send, or raw bytes to process.channel's fd), so in the master:
//   - a line that is not JSON throws in the channel's read callback, and a
//     forged NODE_HANDLE_ACK or NACK fails an internal assertion: either
//     kills the master;
//   - a message is buffered until its newline, without limit;
//   - node:cluster's bind request (cluster._getServer() in the worker, the
//     `queryServer` message; also a worker's listen({ fd }) and a dgram bind)
//     makes the primary bind the address itself, as root, and hand the
//     socket to the worker. tsgund never lets node:cluster share sockets
//     (the master binds only its configured sockets and sends the handles),
//     so every such request is refused with EACCES, which fails the
//     worker's listen() with an error instead of leaving it waiting.
// This module is the only one that touches those internals, checked on
// Node 22, 24 and 26 (spec/e2e/hostile-app.test.ts):
//   child[Symbol(kChannelHandle)]          the channel's Pipe handle
//   pipe.onread(arrayBuffer)               its read callback (undefined at EOF)
//   pipe[Symbol(kJSONBuffer)]              the text read since the last newline
//   child._handleQueue                     an array while a handle sent awaits its acknowledgement
// Internal messages reach listeners through child.emit('internalMessage'),
// which is wrapped here so that nothing but the few node:cluster messages a
// worker legitimately sends gets through.

import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** A message (a line of JSON) longer than this is an attack: no message of tsgund's is near it. */
export const MAX_MESSAGE_CHARS = 1 << 20;

/** node:cluster's messages from a worker that the primary may act on: none of them binds anything. */
const CLUSTER_ACTS = new Set(['online', 'listening', 'close', 'exitedAfterDisconnect']);

export interface ChannelPolicy {
  /** Every message, first (internal ones included): false drops it unseen. */
  admit(): boolean;
  /** node:cluster asked the master to bind `what` (refused). */
  bindRefused(what: string): void;
  /** An internal message that the master does not act on (dropped). */
  internalDropped(cmd: string): void;
  /** The channel carried something that is not a message; everything after it is discarded. */
  corrupt(why: string): void;
}

interface Pipe {
  onread: (this: Pipe, buf?: ArrayBuffer) => unknown;
  [key: symbol]: unknown;
}

const symbolNamed = (o: object, name: string): symbol | undefined =>
  Object.getOwnPropertySymbols(o).find((s) => s.description === name);

/** Guard `child`'s channel (call right after the fork); returns a function that discards everything from now on. */
export function guardChannel(child: ChildProcess, policy: ChannelPolicy): () => void {
  let discarding = false;
  const discard = (): void => {
    discarding = true;
  };
  const handleKey = symbolNamed(child, 'kChannelHandle');
  const pipe = handleKey && (child as unknown as Record<symbol, Pipe | undefined>)[handleKey];
  if (pipe && typeof pipe.onread === 'function') guardReads(pipe, policy, () => discarding, discard);
  const emit = child.emit as (this: ChildProcess, event: string | symbol, ...args: unknown[]) => boolean;
  child.emit = function guardedEmit(this: ChildProcess, event: string | symbol, ...args: unknown[]): boolean {
    const pass = (): boolean => emit.call(this, event, ...args);
    if (event !== 'message' && event !== 'internalMessage') return pass();
    if (discarding) return closeHandle(args[1]);
    if (event === 'internalMessage' && isAck(args[0]) && hasPendingHandle(child)) return pass();
    if (!policy.admit()) return closeHandle(args[1]);
    if (event === 'message') return pass();
    return onInternal(child, policy, args[0] as Record<string, unknown>, args[1]) && pass();
  } as typeof child.emit;
  return discard;
}

/** Parse errors and oversized messages: the read callback is wrapped, and stops parsing once either happens. */
function guardReads(pipe: Pipe, policy: ChannelPolicy, discarding: () => boolean, discard: () => void): void {
  const read = pipe.onread;
  const pending = symbolNamed(pipe, 'kJSONBuffer');
  const stop = (why: string): void => {
    discard();
    if (pending) pipe[pending] = ''; // release what was buffered
    policy.corrupt(why);
  };
  pipe.onread = function guardedRead(this: Pipe, buf?: ArrayBuffer) {
    // at EOF (no buffer) Node closes the channel: always let that through
    if (buf && discarding()) return;
    try {
      read.call(this, buf);
    } catch {
      stop('data that is not a message');
      return;
    }
    const buffered = pending ? pipe[pending] : undefined;
    if (!discarding() && typeof buffered === 'string' && buffered.length > MAX_MESSAGE_CHARS) {
      stop(`a message over ${MAX_MESSAGE_CHARS} characters`);
    }
  };
}

const isAck = (m: unknown): boolean => {
  const cmd = (m as { cmd?: unknown } | null)?.cmd;
  return cmd === 'NODE_HANDLE_ACK' || cmd === 'NODE_HANDLE_NACK';
};

/** Node asserts that an acknowledgement answers a handle it sent: one that answers nothing would throw. */
const hasPendingHandle = (child: ChildProcess): boolean =>
  Array.isArray((child as unknown as { _handleQueue?: unknown })._handleQueue);

/** Whether Node may act on an internal message; a bind request is answered here and goes no further. */
function onInternal(child: ChildProcess, policy: ChannelPolicy, m: Record<string, unknown>, handle: unknown): boolean {
  if (m?.cmd === 'NODE_CLUSTER' && typeof m.act === 'string' && CLUSTER_ACTS.has(m.act) && m.ack === undefined) {
    return true;
  }
  if (m?.cmd === 'NODE_HANDLE' && handle) {
    // a descriptor sent to the master: closed, but acknowledged, or the worker's channel waits for that forever
    closeHandle(handle);
    reply(child, { cmd: 'NODE_HANDLE_ACK' });
  }
  if (m?.cmd === 'NODE_CLUSTER' && m.act === 'queryServer') {
    policy.bindRefused(describeQuery(m));
    refuse(child, m.seq);
  } else policy.internalDropped(typeof m?.cmd === 'string' ? m.cmd : 'unknown');
  return false;
}

/** Answer a bind request with an error, as the primary does when its own bind fails. */
function refuse(child: ChildProcess, seq: unknown): void {
  if (Number.isSafeInteger(seq))
    reply(child, { cmd: 'NODE_CLUSTER', ack: seq, errno: -constants.errno.EACCES, data: null });
}

function reply(child: ChildProcess, msg: object): void {
  if (!child.connected) return;
  try {
    child.send(msg, undefined, {}, () => {});
  } catch {
    // the channel just closed
  }
}

function describeQuery(m: Record<string, unknown>): string {
  const address = typeof m.address === 'string' ? m.address.slice(0, 200) : '';
  if (typeof m.fd === 'number' && m.fd >= 0) return `fd ${m.fd}`;
  if (typeof m.port === 'number' && m.port < 0) return `unix:${address}`;
  return `${address || '*'}:${String(m.port).slice(0, 20)} (${String(m.addressType).slice(0, 10)})`;
}

/** A handle (file descriptor) a worker sent along: the master keeps none. */
function closeHandle(handle: unknown): boolean {
  try {
    (handle as { close?(): void } | undefined)?.close?.();
  } catch {
    // already closed
  }
  return false;
}
