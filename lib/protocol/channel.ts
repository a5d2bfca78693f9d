// The channels from a worker to the master, and what each may cost the master.
//
// App code runs in the workers, so everything a worker sends is input from the
// least trusted party. Every channel is declared here with its budgets, and
// the master reads each one through one gate (master/intake/channel-gate.ts):
//   - a byte budget and a message budget, sustained per second, with a burst
//     of `burstSeconds` of either: when one is spent the master stops reading
//     the channel (backpressure) until it is earned back, and counts a pause;
//     the worker's writes then wait in the kernel's buffer and its own;
//   - the longest single message: a longer one is a protocol violation, found
//     before the master parses it, and stops the worker;
//   - a deadline for every request the master makes of the worker on it.
// Since the master reads a channel one chunk at a time and handles what it
// read before the next, it holds at most one read and one unfinished message
// (maxMessageBytes) per channel and worker: its memory per worker is bounded
// by construction, whatever a worker sends. A budget is a required field of
// every Channel, so a channel without one does not compile. Volume is never a
// reason to stop a worker; only a violation is. A leaf module, no imports.
//
// API, for a new channel:
//   1. declare it in CHANNELS below (name, budget, doc), its numbers documented;
//   2. in the master, read it through a ChannelGate (master/intake/channel-gate.ts):
//      gate.read(bytes, messages) after each read; pause/resume come back to you;
//   3. check each message against gate.tooLong(bytes) before parsing it;
//   4. time each request by CHANNELS[name].budget.deadlines[request].

/** What reading one worker's channel may cost the master. */
export interface ChannelBudget {
  /** Bytes per second the master reads, sustained. */
  readonly bytesPerSecond: number;
  /** Messages (lines, answers) per second the master handles, sustained. */
  readonly messagesPerSecond: number;
  /** The burst: this many seconds' worth of either budget may be spent at once. */
  readonly burstSeconds: number;
  /** The longest single message, in bytes: a longer one is a protocol violation. */
  readonly maxMessageBytes: number;
  /** For every request the master makes of the worker on this channel: milliseconds until it gives up waiting. */
  readonly deadlines: Readonly<Record<string, number>>;
}

export interface Channel<N extends string = string> {
  readonly name: N;
  readonly budget: ChannelBudget;
  /** One line for the docs: what travels on it. */
  readonly doc: string;
}

/** A channel with its budget: leaving out the budget, or any field of it, does not compile. */
export const defineChannel = <const N extends string>(channel: Channel<N>): Channel<N> => channel;

const KiB = 1024;
const MiB = 1024 * KiB;

/** Every channel from a worker to the master (sticky hand-off acknowledgements join as their own). */
export const CHANNELS = {
  ipc: defineChannel({
    name: 'ipc',
    doc: "tsgund's messages on node:cluster's IPC channel (heartbeats, boot reports), and node:cluster's own",
    // a worker sends a heartbeat at most every 100 ms plus a handful at boot and exit: 20 times that
    budget: { bytesPerSecond: 4 * MiB, messagesPerSecond: 200, burstSeconds: 2, maxMessageBytes: MiB, deadlines: {} },
  }),
  errorPipe: defineChannel({
    name: 'errorPipe',
    doc: 'the error-log pipe: JSON lines of the worker, logged by the master through its transports',
    // a line is cut at 64 KiB (the rest dropped, not a violation: a long stack is no attack)
    budget: {
      bytesPerSecond: 2 * MiB,
      messagesPerSecond: 5000,
      burstSeconds: 1,
      maxMessageBytes: 64 * KiB,
      deadlines: {},
    },
  }),
  metrics: defineChannel({
    name: 'metrics',
    doc: "answers to the master's request for the app's prom-client metrics (on the IPC channel)",
    // one answer per request; 512 KiB of JSON is some 5,000 series, more than a scrape should carry.
    // A longer message on IPC is dropped before Node parses it (its objects would weigh ten times its text)
    budget: {
      bytesPerSecond: 4 * MiB,
      messagesPerSecond: 10,
      burstSeconds: 2,
      maxMessageBytes: 512 * KiB,
      deadlines: { 'prom-client:getMetricsReq': 1000 },
    },
  }),
  relay: defineChannel({
    name: 'relay',
    doc: "messages a worker asks the master to pass on to its siblings (@socket.io/cluster-adapter's)",
    // a broadcast of a chat app is a few hundred bytes; a burst of 1,000 emits by one worker passes at once
    budget: {
      bytesPerSecond: 16 * MiB,
      messagesPerSecond: 5000,
      burstSeconds: 2,
      maxMessageBytes: 512 * KiB,
      deadlines: {},
    },
  }),
  hang: defineChannel({
    name: 'hang',
    doc: "the hang report pipe: a stuck worker's helper thread reports its main thread's stack (stackOnTimeout)",
    // one report per stall, and a stalled worker is killed at its timeout: four reports in all, then the pipe
    // is closed (a burst, never earned back); a report is at most 32 frames of bounded text
    budget: {
      bytesPerSecond: 32 * KiB,
      messagesPerSecond: 1,
      burstSeconds: 4,
      maxMessageBytes: 32 * KiB,
      deadlines: {},
    },
  }),
} as const;

export type ChannelName = keyof typeof CHANNELS;
export const CHANNEL_NAMES = Object.keys(CHANNELS) as ChannelName[];
