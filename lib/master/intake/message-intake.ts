// Where every message from a worker enters the master: the channel guard
// (ipc-guard.ts), the rate limit (rate-limit.ts), the schemas
// (protocol/worker-message-schemas.ts), then the arbiter's handler for the kind. Whatever is
// not acted upon is counted by reason and mentioned in a debug line at most
// once a second per worker; a worker that floods the master or corrupts its
// channel is stopped like a hung one, with one error line.

import type { ErrorLog } from '../../log/error-line.js';
import type { WorkerToMaster } from '../../protocol/messages.js';
import { guardChannel } from './ipc-guard.js';
import { TokenBucket, WORKER_MESSAGE_LIMIT, type RateLimit } from './rate-limit.js';
import type { WorkerHandle } from '../pool/worker-handle.js';
import { IGNORE_REASONS, type IgnoreReason, validateWorkerMessage } from '../../protocol/worker-message-schemas.js';

export interface IntakeSink {
  log(): ErrorLog;
  /** Count one ignored message (the metrics, when statsBind is set). */
  counted(reason: IgnoreReason): void;
  /** A valid message, to act on. */
  deliver(h: WorkerHandle, msg: WorkerToMaster): void;
  /** The worker floods the master or corrupts its channel: stop it (one error line: `why`). */
  stop(h: WorkerHandle, why: string): void;
}

/** What the master keeps per worker about its messages. */
interface Mailbox {
  bucket: TokenBucket;
  /** Kinds it has sent (some may be sent once only). */
  seen: Set<string>;
  /** Stopped for flooding or a corrupt channel: nothing more is read. */
  closed: boolean;
  discard: () => void;
  /** Per level of line: ignored since the last line, and when that was. */
  lines: Record<'debug' | 'warning', { unlogged: number; at: number }>;
}

const LOG_EVERY_MS = 1000;

export class MessageIntake {
  /** Ignored messages by reason since the master started (`tsgund status --json`). */
  readonly ignored = Object.fromEntries(IGNORE_REASONS.map((r) => [r, 0])) as Record<IgnoreReason, number>;
  private readonly boxes = new WeakMap<WorkerHandle, Mailbox>();

  constructor(
    private readonly sink: IntakeSink,
    /** Milliseconds, monotonic. */
    private readonly clock: () => number = () => performance.now(),
    private readonly limit: RateLimit = WORKER_MESSAGE_LIMIT,
  ) {}

  /** Start reading a new worker's messages (right after its fork, before any can arrive). */
  attach(h: WorkerHandle): void {
    const box: Mailbox = {
      bucket: new TokenBucket(this.limit, this.clock()),
      seen: new Set(),
      closed: false,
      discard: () => {},
      lines: {
        debug: { unlogged: 0, at: Number.NEGATIVE_INFINITY },
        warning: { unlogged: 0, at: Number.NEGATIVE_INFINITY },
      },
    };
    box.discard = guardChannel(h.worker.process, {
      admit: () => this.admit(h, box),
      bindRefused: (what) =>
        this.ignore(h, box, 'bind', `refused to bind ${what} for it (node:cluster): tsgund binds only --bind`),
      internalDropped: (cmd) => this.ignore(h, box, 'internal', `ignored an internal message (${cmd.slice(0, 40)})`),
      corrupt: (why) => this.stop(h, box, `sent ${why} over its IPC channel`),
    });
    this.boxes.set(h, box);
    h.worker.on('message', (raw: unknown) => this.receive(h, box, raw));
  }

  /** A message that came another way than the IPC channel (the hang report pipe): same budget, same schemas. */
  receiveBeside(h: WorkerHandle, raw: unknown): void {
    const box = this.boxes.get(h);
    if (box && this.admit(h, box)) this.receive(h, box, raw);
  }

  private admit(h: WorkerHandle, box: Mailbox): boolean {
    if (box.closed) return false;
    const admission = box.bucket.take(this.clock());
    if (admission === 'ok') return true;
    if (admission === 'flood') {
      this.stop(h, box, `flooded the master with messages (over ${this.limit.perSecond} a second)`);
    } else this.ignore(h, box, 'rate', 'ignored a message over the rate limit');
    return false;
  }

  private receive(h: WorkerHandle, box: Mailbox, raw: unknown): void {
    if (box.closed) return;
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
    this.sink.stop(h, why);
  }
}
