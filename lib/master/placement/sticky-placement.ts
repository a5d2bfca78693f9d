// Sticky placement by X-Forwarded-For (`sticky: 'forwarded'`): every client
// goes to one worker, even behind a proxy. (`sticky: 'ip'` places by the
// peer's address in the kernel instead, without the master: kernel-placement.ts.)
//
// By default the master never accepts: workers accept on the shared sockets
// and the kernel picks one per connection, so consecutive connections of a
// client land on different workers. Protocols that keep a session in a
// worker's memory across connections (socket.io's HTTP long-polling, which
// sends each poll as its own request) then fail with "Session ID unknown".
// The kernel cannot read headers, and only a process that sees the connection
// before a worker does can place it, so in this mode the master listens on the binds itself, accepts
// with pauseOnConnect, and hands the socket over IPC to the worker of the
// slot that the client's address hashes to. Workers then never accept on the
// binds. The master reads nothing, except from a proxy that forwardedAllowIps
// trusts: there it reads the request head, places the connection by
// X-Forwarded-For, and sends the bytes along for the worker to parse.
//
// The cost: one IPC message and a descriptor passed per connection, through
// the master's one thread (node:cluster's round-robin pays the same). A
// keep-alive connection pays it once. Each worker's hand-offs have their own
// budget and deadline (hand-off-budget.ts): a worker that never acknowledges
// stalls only its own clients, and is replaced.
//
// The hash is over worker slots, not pids, so a replacement serves its slot's
// clients again. Rendezvous hashing: a slot whose worker is not accepting
// (booting, crashed, draining) only sends its clients elsewhere until its
// worker is ready; the other clients stay where they are.

import net from 'node:net';
import type { Listener, NativeHandle } from '../../listeners/handles.js';
import { listenOnHandle } from '../../listeners/handles.js';
import type { ErrorLog } from '../../log/error-line.js';
import { allowList } from '../../allow-list.js';
import { type Clock, monotonic } from '../../clock.js';
import type { MasterToWorker } from '../../protocol/messages.js';
import { HAND_OFF_BUDGET, type HandOffBudget } from './hand-off-budget.js';

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** What a client is placed by: its address, an IPv4-mapped IPv6 address as the IPv4 one (dual-stack binds). */
export function clientKey(address: string | undefined): string {
  if (!address) return '';
  return MAPPED_V4.exec(address)?.[1] ?? address;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const FORWARDED_FOR = /^x-forwarded-for[ \t]*:[ \t]*([^,\r\n]*)/im;
/** The first byte of a TLS record that opens a handshake. */
const TLS_HANDSHAKE = 0x16;
/** How long the master waits for a trusted proxy's request head before it places the connection by the peer. */
const HEAD_WAIT_MS = 1000;

/**
 * The client a trusted proxy names in the request head it sent: the first
 * address of X-Forwarded-For (the original client), or null when there is
 * none or it is not an address.
 */
export function forwardedClient(head: Buffer): string | null {
  const end = head.indexOf(HEAD_END);
  const text = head.subarray(0, end === -1 ? head.length : end).toString('latin1');
  const first =
    FORWARDED_FOR.exec(text)?.[1]
      ?.trim()
      .replace(/^\[(.*)\]$/, '$1') ?? '';
  return net.isIP(first) ? first : null;
}

/** 32-bit FNV-1a. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** murmur3's finalizer: every input bit reaches every output bit. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Rendezvous (highest random weight) hashing: the slot of `slots` whose
 * weight for `key` is highest, or null when `slots` is empty. A key keeps its
 * slot while that slot is in the list; when a slot leaves, only its keys
 * move, spread over the others, and they return when it comes back.
 */
export function chooseSlot(key: string, slots: Iterable<number>): number | null {
  const h = fnv1a(key);
  let best: number | null = null;
  let bestWeight = -1;
  for (const slot of slots) {
    const weight = mix(h ^ Math.imul(slot + 1, 0x9e3779b9));
    if (weight > bestWeight || (weight === bestWeight && slot < best!)) [best, bestWeight] = [slot, weight];
  }
  return best;
}

/** A connection's libuv handle, taken from its socket once the master has read from it. */
type StreamHandle = NativeHandle & { reading?: boolean; readStop(): number };

/** A connection the master accepted: its socket (or handle), the client it is placed by and what was read of it. */
interface Conn {
  socket: net.Socket | StreamHandle;
  key: string;
  /** The request head read from a trusted proxy, for the worker to parse (null: nothing was read). */
  head: Buffer | null;
}

/**
 * Read a trusted proxy's request head, up to `max` bytes or HEAD_WAIT_MS,
 * then stop reading: what follows stays in the kernel for the worker.
 */
function readHead(socket: net.Socket, max: number, done: (head: Buffer, handle: StreamHandle) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = () => {
    clearTimeout(timer);
    socket.off('data', onData).off('end', finish).off('error', fail);
    // Take the handle away from the socket: a paused stream still reads ahead
    // to fill its buffer, and every byte read here is one the worker misses.
    const s = socket as unknown as { _handle: StreamHandle | null };
    const handle = s._handle;
    if (!handle) return; // closed meanwhile
    handle.reading = false;
    handle.readStop();
    s._handle = null;
    done(Buffer.concat(chunks, size), handle);
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    // a TLS handshake (HTTPS with certfile) hides the head: place by the peer at once
    if (chunks[0]![0] === TLS_HANDSHAKE || size >= max || Buffer.concat(chunks, size).includes(HEAD_END)) finish();
  };
  const fail = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(finish, HEAD_WAIT_MS);
  socket.on('data', onData).on('end', finish).on('error', fail);
  socket.resume();
}

/** Close the master's descriptor of a connection (a worker that has its own keeps the connection open). */
function release(conn: Conn): void {
  if (conn.socket instanceof net.Socket) conn.socket.destroy();
  else conn.socket.close();
}

/** Where a connection can go: the IPC send of a worker that accepts. */
export interface StickyTarget {
  send(
    msg: MasterToWorker,
    socket: net.Socket,
    options: { keepOpen: boolean },
    cb: (err: Error | null) => void,
  ): unknown;
}

/** One worker's channel for connections: sent and not yet acknowledged (with when), and waiting to be sent. */
interface Lane {
  pending: Map<Conn, number>;
  waiting: Conn[];
  /** Reported hung already: one line per worker. */
  hung: boolean;
}

export interface StickyOptions {
  budget?: HandOffBudget;
  clock?: Clock;
  /** A worker that did not acknowledge a hand-off within the deadline: abort and replace it. */
  hung?: (target: StickyTarget) => void;
}

/**
 * The master's side of sticky placement by X-Forwarded-For: one acceptor per
 * bind, and the connections it holds. `targets` gives the workers that accept
 * now, by slot (the serving generation, ready, not retiring). Each worker has
 * its own lane, bounded by the hand-off budget (hand-off-budget.ts), so a
 * worker that never acknowledges only stalls its own clients until the
 * deadline makes it count as hung. While no worker accepts at all,
 * connections wait in one queue of `limit` (the backlog). Past a bound, new
 * connections are closed, as a full listen queue drops them: the master
 * cannot stop accepting instead, as closing its listening descriptor would
 * close the socket.
 */
export class StickyPlacement {
  private readonly acceptors = new Map<Listener, net.Server>();
  private readonly held: Conn[] = [];
  /**
   * Per worker: connections sent and not yet written to its channel, and
   * those waiting. A worker that dies first never gets them, so the master
   * keeps its copy of each (keepOpen) until the write is done, and places
   * them again if the worker exits before.
   */
  private readonly lanes = new Map<StickyTarget, Lane>();
  private warned = false;
  /** The proxies whose X-Forwarded-For places a connection (forwardedAllowIps), and the longest head read. */
  private trusts: (address: string | undefined) => boolean = () => false;
  private headMax = 8190;
  private readonly budget: HandOffBudget;
  private readonly clock: Clock;

  constructor(
    private readonly targets: () => ReadonlyMap<number, StickyTarget>,
    private readonly limit: () => number,
    private readonly log: ErrorLog,
    private readonly options: StickyOptions = {},
  ) {
    this.budget = options.budget ?? HAND_OFF_BUDGET;
    this.clock = options.clock ?? monotonic;
  }

  /** Take the settings of a start or a reload: which proxies are trusted, how long a head may be. */
  configure(settings: { forwardedAllowIps: string[]; limitRequestFieldSize: number }): void {
    this.trusts = allowList(settings.forwardedAllowIps);
    this.headMax = settings.limitRequestFieldSize;
  }

  /**
   * Accept on each of `listeners` (those a HUP added, too) and forget the
   * acceptors of listeners gone: their handle is the listener's, which the
   * arbiter closes.
   */
  async follow(listeners: Listener[], backlog: number): Promise<void> {
    for (const l of this.acceptors.keys()) if (!listeners.includes(l)) this.acceptors.delete(l);
    for (const l of listeners) {
      if (this.acceptors.has(l)) continue;
      const acceptor = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accept(socket));
      acceptor.on('error', (err) => this.log.error(`sticky placement: accepting on ${l.label} failed`, err));
      this.acceptors.set(l, acceptor);
      await listenOnHandle(acceptor, l.handle, backlog);
    }
  }

  /** Hand the held connections over once a worker accepts, and find hung workers (on readiness and every tick). */
  flush(): void {
    this.checkDeadlines();
    if (!this.held.length || !this.targets().size) return;
    for (const conn of this.held.splice(0)) this.place(conn);
    this.warned = false;
  }

  /** Why the master cannot place new connections now, or null when it can (for /readyz). */
  blocked(): string | null {
    if (this.held.length) return `${this.held.length} connection(s) wait for a worker`;
    for (const lane of this.lanes.values()) {
      if (lane.waiting.length) return `a worker has ${lane.pending.size} connection(s) unacknowledged`;
    }
    return null;
  }

  /** A worker exited: place again what it was sent and never got, and what waited for it. */
  onExit(target: StickyTarget): void {
    const lane = this.lanes.get(target);
    if (!lane) return;
    this.lanes.delete(target); // a late send callback finds nothing to do
    const again = [...lane.pending.keys(), ...lane.waiting];
    lane.pending.clear();
    for (const conn of again) this.place(conn);
  }

  /** At shutdown: close the connections no worker took. */
  close(): void {
    for (const conn of this.held.splice(0)) release(conn);
    for (const lane of this.lanes.values()) for (const conn of lane.waiting.splice(0)) release(conn);
  }

  /** A new connection: from a trusted proxy, read the head to place it by X-Forwarded-For; else by the peer. */
  private accept(socket: net.Socket): void {
    const peer = socket.remoteAddress;
    if (!this.trusts(peer)) {
      this.place({ socket, key: clientKey(peer), head: null });
      return;
    }
    readHead(socket, this.headMax, (head, handle) =>
      this.place({ socket: handle, key: clientKey(forwardedClient(head) ?? peer), head: head.length ? head : null }),
    );
  }

  private place(conn: Conn): void {
    const targets = this.targets();
    if (!targets.size) {
      this.queue(this.held, this.limit(), conn, 'wait for a worker');
      return;
    }
    const target = targets.get(chooseSlot(conn.key, targets.keys())!)!;
    const lane = this.laneOf(target);
    if (lane.pending.size < this.budget.inFlightPerWorker && !lane.waiting.length) this.sendTo(target, lane, conn);
    else this.queue(lane.waiting, this.budget.waitingPerWorker(this.limit()), conn, 'wait for one worker');
  }

  private laneOf(target: StickyTarget): Lane {
    const lane = this.lanes.get(target) ?? { pending: new Map<Conn, number>(), waiting: [], hung: false };
    this.lanes.set(target, lane);
    return lane;
  }

  private queue(queue: Conn[], max: number, conn: Conn, what: string): void {
    if (queue.length < max) {
      queue.push(conn);
      return;
    }
    if (!this.warned) this.log.warning(`sticky placement: ${queue.length} connections ${what}; closing new ones`);
    this.warned = true;
    release(conn);
  }

  /** A worker whose oldest hand-off waits past the deadline is hung: one error line, and it is replaced. */
  private checkDeadlines(): void {
    const now = this.clock();
    for (const [target, lane] of this.lanes) {
      const oldest = lane.pending.values().next();
      if (lane.hung || oldest.done || now - oldest.value < this.budget.ackDeadlineMs) continue;
      lane.hung = true;
      const pid = (target as { process?: { pid?: number } }).process?.pid ?? '?';
      this.log.error(
        `sticky placement: worker ${pid} acknowledged no connection for ${this.budget.ackDeadlineMs / 1000} s (${lane.pending.size + lane.waiting.length} waiting); replacing it`,
      );
      this.options.hung?.(target);
    }
  }

  private sendTo(target: StickyTarget, lane: Lane, conn: Conn): void {
    lane.pending.set(conn, this.clock());
    const msg: MasterToWorker = conn.head
      ? { type: 'sticky-connection', head: conn.head.toString('base64') }
      : { type: 'sticky-connection' };
    // Without its server, node:child_process skips the bookkeeping it keeps for
    // a server's sockets sent to a worker (an entry per worker ever sent one,
    // and a message back each time the worker's count of them drops to zero).
    if (conn.socket instanceof net.Socket) (conn.socket as { server?: unknown }).server = null;
    // node:child_process passes a bare handle too (as 'net.Native'); the worker wraps it in a socket
    target.send(msg, conn.socket as net.Socket, { keepOpen: true }, (err) => {
      if (!lane.pending.delete(conn)) return; // placed again: its worker exited first
      // A send that failed waits for the worker's exit or the next flush, not in a loop.
      if (err) {
        this.queue(this.held, this.limit(), conn, 'wait for a worker');
        return;
      }
      release(conn); // the worker has its own descriptor now: closing this one leaves the connection open
      while (
        lane.waiting.length &&
        lane.pending.size < this.budget.inFlightPerWorker &&
        this.lanes.get(target) === lane
      )
        this.sendTo(target, lane, lane.waiting.shift()!);
    });
  }
}
