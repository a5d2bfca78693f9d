// Which worker accepts on which reusePort slot socket (see slots.ts for the
// sockets themselves): every slot has its own ("home") worker, and a slot
// whose home worker is not accepting (crashed, recycled, booting, removed by
// TTOU) is served by an accepting worker as a guest until a home worker is
// ready again. A guest that lets go only closes its own descriptor.

import { adoptHandle, type Listener } from '../../listeners/handles.js';
import type { MasterToWorker } from '../../protocol/messages.js';
import type { KernelPlacement } from './kernel-placement.js';
import { Slots } from './slots.js';
import type { WorkerHandle } from '../pool/worker-handle.js';

/** What the master knows of a worker when it places guests. */
export interface SlotHolder {
  slot: number;
  /** Ready and not retiring: accepting on its sockets. */
  accepting: boolean;
}

export interface GuestPlan<W> {
  adopt: [slot: number, worker: W][];
  release: [slot: number, worker: W][];
}

/**
 * Which slots need a guest and which guests can let go: a slot with an
 * accepting home worker needs no guest; any other slot keeps its accepting
 * guest, or gets the accepting worker with the fewest slots (home and guest).
 * Pure: the arbiter applies the plan and records `guests`.
 */
export function planGuests<W extends SlotHolder>(
  slotCount: number,
  workers: readonly W[],
  guests: ReadonlyMap<number, W>,
): GuestPlan<W> {
  const accepting = workers.filter((w) => w.accepting);
  const homed = new Set(accepting.map((w) => w.slot));
  const load = new Map<W, number>(accepting.map((w) => [w, 1]));
  const plan: GuestPlan<W> = { adopt: [], release: [] };
  for (const [slot, guest] of guests) {
    if (homed.has(slot) || slot >= slotCount) plan.release.push([slot, guest]);
    else if (load.has(guest)) load.set(guest, load.get(guest)! + 1);
  }
  for (let slot = 0; slot < slotCount; slot++) {
    if (homed.has(slot)) continue;
    const guest = guests.get(slot);
    if (guest && load.has(guest)) continue;
    let best: W | null = null;
    for (const [w, n] of load)
      if (!best || n < load.get(best)! || (n === load.get(best)! && w.slot < best.slot)) best = w;
    if (!best) break; // nobody accepting at all: the sockets queue until a worker is ready
    load.set(best, load.get(best)! + 1);
    plan.adopt.push([slot, best]);
  }
  return plan;
}

/** The slot sockets and the guests placed on them. */
export class SlotPlacement {
  readonly slots: Slots;
  private readonly guests = new Map<number, WorkerHandle>();
  /** With sticky placement by the kernel: the master listens on the slot sockets and places by BPF. */
  kernel: KernelPlacement | null = null;

  /** `inherited`: bind label → fd handed over by an old master (see Slots). */
  constructor(inherited: Map<string, number>) {
    this.slots = new Slots(inherited, adoptHandle);
  }

  /** Make sure slots 0 … n-1 exist (and, placed by the kernel, listen in slot order). */
  ensure(listeners: Listener[], n: number): void {
    this.slots.ensure(listeners, n);
    this.kernel?.follow(this.slots, listeners);
  }

  /** A worker asks for the sockets once it can receive them (messages sent earlier would be lost). */
  sendSockets(h: WorkerHandle, listeners: Listener[]): void {
    const handles = this.slots.handlesFor(listeners, h.slot);
    listeners.forEach((l, index) => {
      const msg: MasterToWorker = { type: 'socket', index, total: listeners.length, label: l.label };
      h.worker.send(msg, handles[index] as never);
    });
  }

  /**
   * With reusePort, every slot socket needs a worker accepting on it. Runs on
   * every readiness, exit and tick, so it converges like the pool does.
   */
  place(workers: readonly WorkerHandle[], listeners: Listener[]): void {
    if (!listeners.some((l) => l.reusePort)) return;
    const plan = planGuests(this.slots.size, workers, this.guests);
    for (const [slot, h] of plan.release) {
      this.guests.delete(slot);
      h.worker.send({ type: 'release', slot } satisfies MasterToWorker);
    }
    for (const [slot, h] of plan.adopt) {
      this.guests.set(slot, h);
      listeners.forEach((l, index) => {
        const handle = this.slots.handle(l, slot);
        if (handle) h.worker.send({ type: 'adopt', slot, index } satisfies MasterToWorker, handle as never);
      });
    }
  }

  /** Close a listener no longer used, with its slot sockets. */
  close(l: Listener): void {
    this.slots.drop(l);
    this.kernel?.forget(l);
    l.handle.close();
  }

  /**
   * Shutdown: stop holding the sockets so that, once the workers have closed
   * theirs too, new connections are refused. Closing a unix socket handle that
   * bound its path unlinks the path, so those stay open while another master
   * (`shared`) serves on them.
   */
  closeAll(listeners: Listener[], shared: boolean): void {
    for (const l of listeners) if (!(shared && l.unixPath)) this.close(l);
  }

  /** A new generation took over: the old one, guests included, stops accepting. */
  forgetGuests(): void {
    this.guests.clear();
  }
}
