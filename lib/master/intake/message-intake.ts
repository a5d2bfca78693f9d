// Where every message from a worker enters the master: the channel guard
// (ipc-guard.ts), the budgets of the message's channel (protocol/channel.ts,
// read through channel-gate.ts), the schemas (protocol/worker-message-schemas.ts),
// then the arbiter's handler for the kind. Whatever is not acted upon is
// counted by reason and mentioned in a debug line at most once a second per
// worker. A worker that sends more than its budgets is read more slowly (the
// master stops reading its channel for a while: backpressure, counted); one
// that breaks the protocol (a line that is not JSON, a message longer than
// its channel allows) is stopped like a hung one, with one error line.

import type { ErrorLog } from '../../log/error-line.js';
import { CHANNELS, type ChannelBudget } from '../../protocol/channel.js';
import { isMetricsResponse } from '../../protocol/app-metrics.js';
import { ChannelMeter, ReadValve, VALVE_TIMERS, type ValveTimers, tooLong } from './channel-gate.js';
import { guardChannel } from './ipc-guard.js';
import { isRelayMessage } from './relay.js';
import type { WorkerHandle } from '../pool/worker-handle.js';
import {
  type CheckedMessage,
  IGNORE_REASONS,
  type IgnoreReason,
  validateWorkerMessage,
} from '../../protocol/worker-message-schemas.js';

export interface IntakeSink {
  log(): ErrorLog;
  /** Count one ignored message (the metrics, when statsBind is set). */
  counted(reason: IgnoreReason): void;
  /** A valid message, to act on. */
  deliver(h: WorkerHandle, msg: CheckedMessage): void;
  /** The worker floods the master or corrupts its channel: stop it (one error line: `why`). */
  stop(h: WorkerHandle, why: string): void;
  /** A message for the worker's siblings (relay.ts): a promise while the master must not read more from it. */
  relay(h: WorkerHandle, msg: Record<string, unknown>, bytes: number): Promise<void> | null;
}

/** What the master keeps per worker about its messages. */
interface Mailbox {
  /** The budgets of the channels that travel on the IPC channel, each its own. */
  meters: Record<IpcChannel, ChannelMeter>;
  valve: ReadValve | null;
  /** The size of the relay message just admitted, for its delivery right after. */
  relayBytes: number;
  /** Kinds it has sent (some may be sent once only). */
  seen: Set<string>;
  /** Stopped for flooding or a corrupt channel: nothing more is read. */
  closed: boolean;
  discard: () => void;
  /** Per level of line: ignored since the last line, and when that was. */
  lines: Record<'debug' | 'warning', { unlogged: number; at: number }>;
}

const LOG_EVERY_MS = 1000;

/** The channels whose messages travel on node:cluster's IPC channel. */
type IpcChannel = 'ipc' | 'metrics' | 'relay';

const KIND: Record<IpcChannel, string> = { ipc: 'a message', metrics: 'a metrics answer', relay: 'a relay message' };

const channelOf = (m: unknown): IpcChannel => (isMetricsResponse(m) ? 'metrics' : isRelayMessage(m) ? 'relay' : 'ipc');

export class MessageIntake {
  /** Ignored messages by reason since the master started (`tsgund status --json`). */
  readonly ignored = Object.fromEntries(IGNORE_REASONS.map((r) => [r, 0])) as Record<IgnoreReason, number>;
  private readonly boxes = new WeakMap<WorkerHandle, Mailbox>();

  constructor(
    private readonly sink: IntakeSink,
    /** Milliseconds, monotonic. */
    private readonly clock: () => number = () => performance.now(),
    private readonly budgets: Record<IpcChannel, ChannelBudget> = {
      ipc: CHANNELS.ipc.budget,
      metrics: CHANNELS.metrics.budget,
      relay: CHANNELS.relay.budget,
    },
    private readonly timers: ValveTimers = VALVE_TIMERS,
  ) {}

  /** Start reading a new worker's messages (right after its fork, before any can arrive). */
  attach(h: WorkerHandle): void {
    const now = this.clock();
    const box: Mailbox = {
      meters: {
        ipc: new ChannelMeter(this.budgets.ipc, now),
        metrics: new ChannelMeter(this.budgets.metrics, now),
        relay: new ChannelMeter(this.budgets.relay, now),
      },
      relayBytes: 0,
      valve: null,
      seen: new Set(),
      closed: false,
      discard: () => {},
      lines: {
        debug: { unlogged: 0, at: Number.NEGATIVE_INFINITY },
        warning: { unlogged: 0, at: Number.NEGATIVE_INFINITY },
      },
    };
    const channel = guardChannel(
      h.worker.process,
      {
        admit: (m, bytes) => this.admit(h, box, m, bytes),
        bindRefused: (what) =>
          this.ignore(h, box, 'bind', `refused to bind ${what} for it (node:cluster): tsgund binds only --bind`),
        internalDropped: (cmd) => this.ignore(h, box, 'internal', `ignored an internal message (${cmd})`),
        corrupt: (why) => this.stop(h, box, `sent ${why} over its IPC channel`),
        skipped: (bytes) => this.skipped(h, box, bytes),
      },
      // the largest message a channel on IPC may carry is parsed; a longer one is dropped unparsed, up to the IPC maximum
      { parseBytes: this.budgets.metrics.maxMessageBytes, maxBytes: this.budgets.ipc.maxMessageBytes },
    );
    box.discard = channel.discard;
    // while the master does not read, the worker's heartbeats wait unread: its deadline runs from the last read
    const events = {
      paused: () => (h.readPaused = true),
      resumed: () => {
        h.readPaused = false;
        h.lastCheckin = this.clock();
      },
    };
    box.valve = new ReadValve('ipc', channel.reads, events, { ...this.timers, now: this.clock });
    this.boxes.set(h, box);
    h.worker.on('message', (raw: unknown) => this.receive(h, box, raw));
  }

  /**
   * A message that came another way than the IPC channel: the hang report
   * pipe, whose reader spends its own budget (CHANNELS.hang). The same
   * schemas and the same state checks.
   */
  receiveBeside(h: WorkerHandle, raw: unknown): void {
    const box = this.boxes.get(h);
    if (box && !box.closed) this.receive(h, box, raw);
  }

  /** Spend the message's channel budget: when spent, the master stops reading for a while (never drops). */
  private admit(h: WorkerHandle, box: Mailbox, m: unknown, bytes: number): boolean {
    if (box.closed) return false;
    const channel = channelOf(m);
    if (tooLong(this.budgets[channel], bytes)) {
      this.ignore(h, box, 'malformed', `dropped ${KIND[channel]} over ${this.budgets[channel].maxMessageBytes} bytes`);
      box.valve?.holdFor(box.meters[channel].spend(bytes, 1, this.clock()));
      return false;
    }
    box.valve?.holdFor(box.meters[channel].spend(bytes, 1, this.clock()));
    if (channel === 'relay') box.relayBytes = bytes;
    return true;
  }

  /** A message too long to parse: dropped unread, its bytes spent from the budget. */
  private skipped(h: WorkerHandle, box: Mailbox, bytes: number): void {
    if (box.closed) return;
    box.valve?.holdFor(box.meters.ipc.spend(bytes, 1, this.clock()));
    this.ignore(
      h,
      box,
      'malformed',
      `dropped a message of ${bytes} bytes unparsed (the most a message may carry here)`,
    );
  }

  private receive(h: WorkerHandle, box: Mailbox, raw: unknown): void {
    if (box.closed) return;
    if (isRelayMessage(raw)) {
      const busy = this.sink.relay(h, raw, box.relayBytes);
      if (busy !== null) box.valve?.holdUntil(busy);
      return;
    }
    const verdict = validateWorkerMessage(raw, h.state, box.seen);
    if (!verdict.ok) {
      this.ignore(h, box, verdict.reason, `ignored a message (${verdict.reason}): ${verdict.why}`);
      return;
    }
    box.seen.add(verdict.msg.type);
    try {
      this.sink.deliver(h, verdict.msg);
    } catch (err) {
      // a bug of ours, not the worker's: it must not take the master down
      this.sink.log().error(`handling a '${verdict.msg.type}' message from worker ${h.pid} failed`, err);
    }
  }

  private ignore(h: WorkerHandle, box: Mailbox, reason: IgnoreReason, what: string): void {
    this.ignored[reason]++;
    this.sink.counted(reason);
    // a refused bind is the operator's business (an app that uses node:cluster itself); the rest is noise
    const level = reason === 'bind' ? 'warning' : 'debug';
    const line = box.lines[level];
    line.unlogged++;
    const now = this.clock();
    if (now - line.at < LOG_EVERY_MS) return;
    const more = line.unlogged > 1 ? ` (and ${line.unlogged - 1} more since the previous line)` : '';
    line.at = now;
    line.unlogged = 0;
    this.sink.log()[level](`Worker ${h.pid}: ${what}${more}`);
  }

  private stop(h: WorkerHandle, box: Mailbox, why: string): void {
    if (box.closed) return;
    box.closed = true;
    box.discard();
    box.valve?.close();
    this.sink.stop(h, why);
  }
}
