// Per-worker listening sockets (the reusePort setting).
//
// With one shared socket, every worker accepts from one queue and the kernel
// wakes whichever is waiting: connections opened in a burst can all land on
// one worker. With SO_REUSEPORT, each worker slot has its own socket on the
// same address, and the kernel hashes every new connection to one socket of
// the group.
//
// Who listens: the master binds each slot socket and never listens or accepts
// on it; the worker of the slot calls listen() on the copy it receives, which
// joins the socket to the kernel's group. Listening is a state of the socket,
// not of a descriptor, so when the worker exits the socket stays listening
// (the master still holds it) and keeps its queue; whoever listens on it next
// accepts what queued meanwhile. Nothing closes a slot socket but the
// master's own shutdown or a HUP that drops its bind, so a queued connection
// is never reset by a worker coming or going.
//
// Who accepts: the slot's own ("home") worker. A slot without a ready home
// worker (crash, recycle, boot of a replacement, TTOU, a HUP to fewer
// workers) is adopted by a ready worker as a guest until a home worker is
// ready again; a guest that lets go only closes its own descriptor. TTOU
// therefore never closes a socket: the kernel would reset what is queued on
// it unless net.ipv4.tcp_migrate_req is 1, and the guest keeps it served.

import { bindSibling, type Listener, type NativeHandle } from '../../listeners/handles.js';

/** Per TCP listener bound with SO_REUSEPORT: its slot sockets; slot 0 is the listener's own handle. */
export class Slots {
  private readonly siblings = new Map<Listener, NativeHandle[]>();
  private count = 1;

  /** `inherited`: bind label → fd handed over by an old master, slot sockets as `LABEL#N`. */
  constructor(
    private readonly inherited: Map<string, number>,
    private readonly adopt: (fd: number, label: string) => NativeHandle,
  ) {
    // every slot socket handed over is taken over: one left unserved would hold its connections forever
    for (const label of inherited.keys()) {
      const slot = Number(/#(\d+)$/.exec(label)?.[1] ?? 0);
      this.count = Math.max(this.count, slot + 1);
    }
  }

  /** How many slots exist (never fewer than 1). */
  get size(): number {
    return this.count;
  }

  /** Make sure slots 0 … n-1 exist for every listener bound with SO_REUSEPORT. */
  ensure(listeners: Listener[], n: number): void {
    this.count = Math.max(this.count, n);
    for (const l of listeners) {
      if (!l.reusePort) continue;
      const list = this.siblings.get(l) ?? [];
      this.siblings.set(l, list);
      for (let slot = list.length + 1; slot < this.count; slot++) {
        const fd = this.inherited.get(slotLabel(l.label, slot));
        // an inherited slot socket still has SO_REUSEPORT and its place in the group
        list.push(fd === undefined ? bindSibling(l) : this.adopt(fd, l.label));
      }
    }
  }

  /** The socket a worker of `slot` accepts on, for each listener (shared listeners: their one socket). */
  handlesFor(listeners: Listener[], slot: number): NativeHandle[] {
    return listeners.map((l) => this.handle(l, slot) ?? l.handle);
  }

  /** The slot socket of a listener bound with SO_REUSEPORT; null for a shared listener. */
  handle(l: Listener, slot: number): NativeHandle | null {
    if (!l.reusePort) return null;
    return slot === 0 ? l.handle : (this.siblings.get(l)?.[slot - 1] ?? null);
  }

  /** Close the slot sockets of a listener no longer configured (slot 0 is the listener's, closed with it). */
  drop(l: Listener): void {
    for (const h of this.siblings.get(l) ?? []) h.close();
    this.siblings.delete(l);
  }

  /** Every slot socket but slot 0, labelled for a new master (USR2). */
  forHandOver(): { label: string; fd: number }[] {
    return [...this.siblings].flatMap(([l, list]) =>
      list.map((h, i) => ({ label: slotLabel(l.label, i + 1), fd: h.fd })),
    );
  }
}

export const slotLabel = (label: string, slot: number): string => `${label}#${slot}`;
