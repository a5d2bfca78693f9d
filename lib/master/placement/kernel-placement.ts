// Sticky placement by the kernel (`sticky: 'ip'`): every client address goes
// to one worker slot, and the master stays out of the data path.
//
// Each worker slot has its own SO_REUSEPORT socket per TCP bind (slots.ts, as
// with reusePort). The kernel keeps a bind's sockets in a group, indexed by
// the order of their listen() calls, and a classic BPF program attached to
// the group (native/reaper, attachReusePortCbpf) picks the socket for each
// new connection: hash(source address) % count. So the
// master itself calls listen() on every slot socket, in slot order, before
// any worker gets it: through the addon, so that libuv never polls or accepts
// here. A worker that receives a socket listens on it again, which keeps its
// place in the group; a slot without a ready worker queues its clients until
// a guest or its home worker accepts (slot-placement.ts).
//
// More slots (TTIN, a HUP to more workers) append sockets in slot order and
// attach the program again with the new count, which moves most clients.
// Fewer slots keep every socket (its clients are served by a guest), HUP and
// USR2 keep the sockets, so the mapping stays.

import { ConfigError } from '../../errors.js';
import type { Listener } from '../../listeners/handles.js';
import type { ErrorLog } from '../../log/error-line.js';
import { type NativeAddon, addonWith } from '../../native-addon.js';
import type { Slots } from './slots.js';

type KernelCalls = Required<Pick<NativeAddon, 'listenFd' | 'attachReusePortCbpf'>>;

const LOOPBACK = /^(127\.|::1$|::ffff:127\.|localhost$)/i;

export class KernelPlacement {
  /** Per listener: how many of its slot sockets the master listened on, and the count the program has. */
  private readonly done = new Map<Listener, { listened: number; count: number }>();

  constructor(
    private readonly calls: KernelCalls,
    private readonly backlog: () => number,
    private readonly log: ErrorLog,
  ) {}

  /** The addon's calls, or a ConfigError naming the setting and why it cannot be had. */
  static start(backlog: () => number, log: ErrorLog): KernelPlacement {
    const { native, error } = addonWith('listenFd', 'attachReusePortCbpf');
    if (!native) {
      throw new ConfigError(
        `setting 'sticky' is "ip", but placement by the kernel needs tsgund's native addon: ${error}; build it (node node_modules/tsgund/native/reaper/build.cjs) or use --sticky forwarded`,
      );
    }
    return new KernelPlacement(native, backlog, log);
  }

  /** One warning per bind whose clients all look alike to the kernel, or that it cannot place. */
  warnUnplaced(listeners: Listener[]): void {
    for (const l of listeners) {
      if (!l.reusePort) {
        this.log.warning(`sticky placement: ${l.label} is not a TCP bind of its own; its clients are not placed`);
      } else if (l.address.kind === 'tcp' && LOOPBACK.test(l.address.host)) {
        this.log.warning(
          `sticky placement: ${l.label} is a loopback bind; every client behind a local proxy has the proxy's address and lands on one worker (use --sticky forwarded behind a proxy)`,
        );
      }
    }
  }

  /**
   * After `slots` grew (or at start): listen on the slot sockets not listened
   * on yet, in slot order, then attach the program with the slot count.
   */
  follow(slots: Slots, listeners: Listener[]): void {
    for (const l of listeners) {
      if (!l.reusePort) continue;
      const state = this.done.get(l) ?? { listened: 0, count: 0 };
      this.done.set(l, state);
      try {
        for (; state.listened < slots.size; state.listened++) {
          this.calls.listenFd(slots.handle(l, state.listened)!.fd, this.backlog());
        }
        if (state.count === slots.size) continue;
        this.calls.attachReusePortCbpf(l.handle.fd, slots.size);
        if (state.count) {
          this.log.info(`Sticky placement on ${l.label}: ${state.count} -> ${slots.size} slots (most clients move)`);
        }
        state.count = slots.size;
      } catch (err) {
        this.log.error(`sticky placement on ${l.label}: the kernel refused`, err);
      }
    }
  }

  /** A listener no longer configured. */
  forget(l: Listener): void {
    this.done.delete(l);
  }
}
