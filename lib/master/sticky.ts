// Sticky placement (the `sticky` setting): every client goes to one worker.
//
// By default the master never accepts: workers accept on the shared sockets
// and the kernel picks one per connection, so consecutive connections of a
// client land on different workers. Protocols that keep a session in a
// worker's memory across connections (socket.io's HTTP long-polling, which
// sends each poll as its own request) then fail with "Session ID unknown".
// Only a process that sees the connection before a worker does can place it,
// so with sticky placement the master listens on the binds itself, accepts
// with pauseOnConnect (it reads nothing), and hands the socket over IPC to
// the worker of the slot that the client's address hashes to. Workers then
// never accept on the binds.
//
// The cost: one IPC message and a descriptor passed per connection, through
// the master's one thread (node:cluster's round-robin pays the same). A
// keep-alive connection pays it once.
//
// The hash is over worker slots, not pids, so a replacement serves its slot's
// clients again. Rendezvous hashing: a slot whose worker is not accepting
// (booting, crashed, draining) only sends its clients elsewhere until its
// worker is ready; the other clients stay where they are.

import net from 'node:net';
import type { Listener } from '../listeners/handles.js';
import { listenOnHandle } from '../listeners/handles.js';
import type { ErrorLog } from '../log/error-line.js';
import type { MasterToWorker } from '../worker/messages.js';

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** What a client is placed by: its address, an IPv4-mapped IPv6 address as the IPv4 one (dual-stack binds). */
export function clientKey(address: string | undefined): string {
  if (!address) return '';
  return MAPPED_V4.exec(address)?.[1] ?? address;
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

/** Where a connection can go: the IPC send of a worker that accepts. */
export interface StickyTarget {
  send(
    msg: MasterToWorker,
    socket: net.Socket,
    options: { keepOpen: boolean },
    cb: (err: Error | null) => void,
  ): unknown;
}

/**
 * The master's side of sticky placement: one acceptor per bind, and the
 * connections it holds while no worker accepts. `targets` gives the workers
 * that accept now, by slot (the serving generation, ready, not retiring);
 * `limit` bounds the held connections (past it new ones are closed, as a
 * full listen queue drops them).
 */
export class StickyPlacement {
  private readonly acceptors = new Map<Listener, net.Server>();
  private readonly held: net.Socket[] = [];
  /**
   * Connections sent to a worker and not yet written to its channel. Node
   * passes one descriptor at a time per channel and queues the rest until the
   * worker acknowledges; a worker that dies first never gets them, so the
   * master keeps its copy of each (keepOpen) until the write is done, and
   * places them again if the worker exits before.
   */
  private readonly unsent = new Map<StickyTarget, Set<net.Socket>>();
  private warned = false;

  constructor(
    private readonly targets: () => ReadonlyMap<number, StickyTarget>,
    private readonly limit: () => number,
    private readonly log: ErrorLog,
  ) {}

  /**
   * Accept on each of `listeners` (those a HUP added, too) and forget the
   * acceptors of listeners gone: their handle is the listener's, which the
   * arbiter closes.
   */
  async follow(listeners: Listener[], backlog: number): Promise<void> {
    for (const l of this.acceptors.keys()) if (!listeners.includes(l)) this.acceptors.delete(l);
    for (const l of listeners) {
      if (this.acceptors.has(l)) continue;
      const acceptor = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.place(socket));
      acceptor.on('error', (err) => this.log.error(`sticky placement: accepting on ${l.label} failed`, err));
      this.acceptors.set(l, acceptor);
      await listenOnHandle(acceptor, l.handle, backlog);
    }
  }

  /** Hand the held connections over, once a worker accepts (on readiness and every tick). */
  flush(): void {
    if (!this.held.length) return;
    const targets = this.targets();
    if (!targets.size) return;
    for (const socket of this.held.splice(0)) this.sendTo(targets, socket);
    this.warned = false;
  }

  /** A worker exited: place again what it was sent and never got. */
  onExit(target: StickyTarget): void {
    const unsent = [...(this.unsent.get(target) ?? [])];
    this.unsent.get(target)?.clear(); // a late send callback finds nothing to do
    this.unsent.delete(target);
    for (const socket of unsent) this.place(socket);
  }

  /** At shutdown: close the connections no worker took. */
  close(): void {
    for (const socket of this.held.splice(0)) socket.destroy();
  }

  private place(socket: net.Socket): void {
    const targets = this.targets();
    if (targets.size) this.sendTo(targets, socket);
    else this.hold(socket);
  }

  private hold(socket: net.Socket): void {
    if (this.held.length >= this.limit()) {
      if (!this.warned) {
        this.log.warning(
          `sticky placement: no worker accepts and ${this.held.length} connections wait; closing new ones`,
        );
      }
      this.warned = true;
      socket.destroy();
      return;
    }
    this.held.push(socket);
  }

  private sendTo(targets: ReadonlyMap<number, StickyTarget>, socket: net.Socket): void {
    const target = targets.get(chooseSlot(clientKey(socket.remoteAddress), targets.keys())!)!;
    const pending = this.unsent.get(target) ?? new Set<net.Socket>();
    this.unsent.set(target, pending);
    pending.add(socket);
    target.send({ type: 'sticky-connection' }, socket, { keepOpen: true }, (err) => {
      if (!pending.delete(socket)) return; // placed again: its worker exited first
      // the worker has its own descriptor now: closing this one leaves the connection open.
      // A send that failed waits for the next flush (the worker's exit, a tick), not in a loop.
      if (err) this.hold(socket);
      else socket.destroy();
    });
  }
}
