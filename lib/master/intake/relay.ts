// The relay channel: messages a worker asks the master to pass on to its
// siblings. @socket.io/cluster-adapter broadcasts between node:cluster
// workers through the primary, where its setupPrimary() would pass each
// message on; tsgund runs no app code in the master, so it relays them itself
// (the app needs no master hook), under the relay channel's budget
// (protocol/channel.ts): a message from a worker with `source: '_sio_adapter'`
// goes to every other live worker, and a response (FETCH_SOCKETS_RESPONSE,
// SERVER_SIDE_EMIT_RESPONSE) to the worker that asked, known by the adapter
// uids it has sent from. What the master has passed on and a sibling's
// channel has not taken yet is counted per sibling; past `maxQueuedBytes`,
// the master stops reading the senders until that sibling takes it: its
// memory stays bounded, and nothing is dropped or stopped for volume.

/** The `source` of @socket.io/cluster-adapter's messages (MESSAGE_SOURCE in its dist/index.js). */
export const RELAY_SOURCE = '_sio_adapter';
/** socket.io-adapter's MessageType.FETCH_SOCKETS_RESPONSE and SERVER_SIDE_EMIT_RESPONSE: answers to one worker. */
const RESPONSES = new Set([8, 10]);
/** An adapter has one uid per namespace: more than this from one worker are not remembered. */
const MAX_UIDS = 256;

export const isRelayMessage = (m: unknown): m is Record<string, unknown> =>
  typeof m === 'object' && m !== null && (m as { source?: unknown }).source === RELAY_SOURCE;

/** A worker as the relay sees it. */
export interface RelayPeer {
  readonly pid: number;
  /** Send on its IPC channel; `done` once written (or the channel closed). */
  send(msg: unknown, done: () => void): void;
}

interface PeerState {
  uids: Set<string>;
  /** Bytes passed on to it and not yet written to its channel. */
  queued: number;
  /** Senders waiting for it to take what is queued. */
  waiters: Array<() => void>;
}

export class Relay {
  private readonly state = new Map<number, PeerState>();
  /** Messages passed on since the master started (each copy counts). */
  relayed = 0;

  constructor(
    /** The workers that may receive (live, connected). */
    private readonly peers: () => Iterable<RelayPeer>,
    private readonly maxQueuedBytes: number,
  ) {}

  /**
   * Pass `msg` (`bytes` long) from `from` on. Returns a promise when a
   * sibling has more than maxQueuedBytes waiting: read nothing more from
   * `from` until it settles.
   */
  pass(from: RelayPeer, msg: Record<string, unknown>, bytes: number): Promise<void> | null {
    const origin = this.of(from);
    if (typeof msg.uid === 'string' && origin.uids.size < MAX_UIDS) origin.uids.add(msg.uid);
    const waits: Promise<void>[] = [];
    for (const to of this.targets(from, msg)) {
      const s = this.of(to);
      s.queued += bytes;
      this.relayed++;
      to.send(msg, () => this.written(s, bytes));
      if (s.queued > this.maxQueuedBytes) waits.push(new Promise((resolve) => s.waiters.push(resolve)));
    }
    return waits.length ? Promise.all(waits).then(() => {}) : null;
  }

  /** The worker exited: whoever waits for it reads on. */
  forget(pid: number): void {
    const s = this.state.get(pid);
    this.state.delete(pid);
    for (const resolve of s?.waiters.splice(0) ?? []) resolve();
  }

  private *targets(from: RelayPeer, msg: Record<string, unknown>): Iterable<RelayPeer> {
    const response = RESPONSES.has(msg.type as number);
    for (const peer of this.peers()) {
      if (peer.pid === from.pid) continue;
      if (!response) yield peer;
      else if (this.of(peer).uids.has(msg.requesterUid as string)) return yield peer;
    }
  }

  private written(s: PeerState, bytes: number): void {
    s.queued -= bytes;
    if (s.queued > this.maxQueuedBytes) return;
    for (const resolve of s.waiters.splice(0)) resolve();
  }

  private of(peer: RelayPeer): PeerState {
    let s = this.state.get(peer.pid);
    if (!s) {
      s = { uids: new Set(), queued: 0, waiters: [] };
      this.state.set(peer.pid, s);
    }
    return s;
  }
}
