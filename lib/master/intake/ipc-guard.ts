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
// The internals it reads are in internals/node-internals.ts. Reading is
// metered here too: the size of each line is measured in the bytes read,
// before Node parses it, so that a message longer than the channel allows is
// a violation found before any of it is parsed, and each message reaches the
// policy with its size, for its channel's budget (master/intake/channel-gate.ts).
// Internal messages reach listeners through child.emit('internalMessage'),
// which is wrapped here so that nothing but the few node:cluster messages a
// worker legitimately sends gets through.

import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import {
  type ChannelKeys,
  type ChannelPipe,
  channelPipe,
  checkHandleQueue,
  hasPendingHandle,
} from '../../internals/node-internals.js';
import { RawWorkerText, type WorkerText, quote } from '../../worker-text.js';
import type { Readable } from './channel-gate.js';

/** node:cluster's messages from a worker that the primary may act on: none of them binds anything. */
const CLUSTER_ACTS = new Set(['online', 'listening', 'close', 'exitedAfterDisconnect']);

export interface ChannelPolicy {
  /** Every message, first (internal ones included), with the bytes of its line: false drops it unseen. */
  admit(message: unknown, bytes: number): boolean;
  /** node:cluster asked the master to bind `what` (refused). */
  bindRefused(what: WorkerText): void;
  /** An internal message that the master does not act on (dropped): its command, quoted. */
  internalDropped(cmd: WorkerText): void;
  /** The channel carried something that is not a message; everything after it is discarded. */
  corrupt(why: string): void;
  /** A line of `bytes` over the parse limit was dropped unparsed. */
  skipped(bytes: number): void;
}

export interface GuardedChannel {
  /** Discard everything from now on. */
  discard(): void;
  /** Stop and restart reading the channel (backpressure). */
  reads: Readable;
}

/**
 * Guard `child`'s channel (call right after the fork), with `limits` on its
 * lines. Throws MissingInternalError when this Node lacks what the guard needs.
 */
export function guardChannel(child: ChildProcess, policy: ChannelPolicy, limits: LineLimits): GuardedChannel {
  const { pipe, ...keys } = channelPipe(child);
  checkHandleQueue(child);
  let discarding = false;
  const discard = (): void => {
    discarding = true;
  };
  // the bytes of each line read and not yet emitted: Node emits one event per line, in order (on the next tick)
  const sizes: number[] = [];
  guardReads(pipe, keys, { policy, sizes, limits, discarding: () => discarding, discard });
  const emit = child.emit as (this: ChildProcess, event: string | symbol, ...args: unknown[]) => boolean;
  child.emit = function guardedEmit(this: ChildProcess, event: string | symbol, ...args: unknown[]): boolean {
    const pass = (): boolean => emit.call(this, event, ...args);
    if (event !== 'message' && event !== 'internalMessage') return pass();
    const bytes = sizes.shift() ?? 0;
    if (discarding) return closeHandle(args[1]);
    if (event === 'internalMessage' && isAck(args[0]) && hasPendingHandle(child)) return pass();
    if (event === 'message' && (args[0] as { type?: unknown } | null)?.type === SKIPPED) {
      policy.skipped(bytes);
      return false;
    }
    if (!policy.admit(args[0], bytes)) return closeHandle(args[1]);
    if (event === 'message') return pass();
    return onInternal(child, policy, args[0] as Record<string, unknown>, args[1]) && pass();
  } as typeof child.emit;
  const reads: Readable = {
    stop: () => void pipe.readStop(),
    start: () => {
      if (!discarding && child.connected) pipe.readStart();
    },
  };
  return { discard, reads };
}

interface ReadGuard {
  policy: ChannelPolicy;
  sizes: number[];
  limits: LineLimits;
  discarding(): boolean;
  discard(): void;
}

/** What a line of the channel may weigh. */
export interface LineLimits {
  /** Longer lines are dropped unparsed: Node parses a short placeholder instead. */
  parseBytes: number;
  /** Longer lines break the protocol: the worker is stopped. */
  maxBytes: number;
}

/** The type of the placeholder a dropped line becomes. */
export const SKIPPED = 'tsgund:skipped';
const PLACEHOLDER = `{"type":"${SKIPPED}"}`;
const PLACEHOLDER_BYTES = Buffer.from(PLACEHOLDER);

/**
 * The read callback, wrapped: each chunk's lines are measured before Node
 * parses them; a line over the parse limit is blanked in place (Node parses a
 * placeholder and spaces); one over the maximum, or one that does not parse,
 * stops all parsing of the channel.
 */
function guardReads(pipe: ChannelPipe, keys: ChannelKeys, g: ReadGuard): void {
  const read = pipe.onread;
  const lines = new LineMeter(g.limits.parseBytes);
  const stop = (why: string): void => {
    g.discard();
    pipe[keys.jsonBuffer] = ''; // release what was buffered
    g.sizes.length = 0;
    g.policy.corrupt(why);
  };
  pipe.onread = function guardedRead(this: ChannelPipe, buf?: ArrayBuffer) {
    // at EOF (no buffer) Node closes the channel: always let that through
    if (buf && g.discarding()) return;
    if (buf) {
      const measured = lines.read(new Uint8Array(buf));
      if (measured.longest > g.limits.maxBytes) return stop(`a message over ${g.limits.maxBytes} bytes`);
      if (measured.replaceBuffered || measured.swallow) {
        pipe[keys.jsonBuffer] = PLACEHOLDER;
        pipe[keys.decoder] = undefined; // a character cut in two would garble the placeholder: Node makes a new one
      }
      // nothing in it for Node to parse (a handle that came with it waits in pipe.pendingHandle for the next read)
      if (measured.swallow) return;
      for (const size of measured.sizes) g.sizes.push(size);
    }
    try {
      read.call(this, buf);
    } catch {
      stop('data that is not a message');
    }
  };
}

/**
 * Measures the lines of a channel chunk by chunk, before they are parsed, and
 * blanks in place each line longer than `parseBytes`: its first bytes become
 * the placeholder (or, when it began in an earlier chunk, the text Node
 * buffered of it must: `replaceBuffered`), the rest spaces, which JSON allows.
 */
export class LineMeter {
  /** Bytes of the unfinished line so far. */
  private partial = 0;
  private skipping = false;

  constructor(private readonly parseBytes: number) {}

  /**
   * The sizes of the lines `chunk` completes, the longest (the unfinished one
   * included); `swallow` when all of it belongs to a line being dropped, so
   * that Node need not see it at all.
   */
  read(chunk: Uint8Array): { sizes: number[]; longest: number; replaceBuffered: boolean; swallow: boolean } {
    const sizes: number[] = [];
    let longest = 0;
    let replaceBuffered = false;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      const end = nl === -1 ? chunk.length : nl;
      const size = this.partial + end - from;
      longest = Math.max(longest, size);
      if (!this.skipping && size > this.parseBytes) {
        this.skipping = true;
        if (this.partial > 0) replaceBuffered = true;
        else {
          chunk.set(PLACEHOLDER_BYTES, from);
          from += PLACEHOLDER_BYTES.length;
        }
      }
      if (this.skipping) chunk.fill(0x20, from, end);
      if (nl === -1) {
        this.partial = size;
        return { sizes, longest, replaceBuffered, swallow: this.skipping && sizes.length === 0 };
      }
      sizes.push(size);
      this.partial = 0;
      this.skipping = false;
      from = nl + 1;
    }
  }
}

const isAck = (m: unknown): boolean => {
  const cmd = (m as { cmd?: unknown } | null)?.cmd;
  return cmd === 'NODE_HANDLE_ACK' || cmd === 'NODE_HANDLE_NACK';
};

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
  } else policy.internalDropped(typeof m?.cmd === 'string' ? quote(m.cmd, 40) : quote('unknown'));
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

/** The address a bind request names, escaped: every field of it is the worker's text. */
function describeQuery(m: Record<string, unknown>): WorkerText {
  const field = (v: unknown, max: number): WorkerText => RawWorkerText.of(String(v), max)!.escaped();
  const address = typeof m.address === 'string' ? field(m.address, 200) : '';
  if (typeof m.fd === 'number' && m.fd >= 0) return `fd ${m.fd}` as WorkerText;
  if (typeof m.port === 'number' && m.port < 0) return `unix:${address}` as WorkerText;
  return `${address || '*'}:${field(m.port, 20)} (${field(m.addressType, 10)})` as WorkerText;
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
