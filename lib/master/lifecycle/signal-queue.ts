// The master's signal loop (gunicorn's SIG_QUEUE and handle_<sig> lookup):
// signal handlers only enqueue, and one loop handles one signal at a time, in
// order, so a burst of signals is neither lost nor interleaved.

import type { ErrorLog } from '../../log/error-line.js';

export type MasterSignal =
  | 'SIGHUP'
  | 'SIGINT'
  | 'SIGQUIT'
  | 'SIGTERM'
  | 'SIGTTIN'
  | 'SIGTTOU'
  | 'SIGUSR1'
  | 'SIGUSR2'
  | 'SIGWINCH';

/** A signal's handler, and what it does in the "Handling signal" line. */
export interface SignalHandler {
  what?: string;
  run(): void | Promise<void>;
}

export const STOP_SIGNALS = new Set<string>(['SIGINT', 'SIGQUIT', 'SIGTERM']);

export class SignalQueue {
  private readonly queue: MasterSignal[] = [];
  /** Wakes the loop when a signal is queued. */
  private wake: (() => void) | null = null;

  constructor(
    /** One handler per signal: the signals the master handles are this table's keys. */
    private readonly handlers: Record<MasterSignal, SignalHandler>,
    private readonly log: () => ErrorLog,
    private readonly stopping: () => boolean,
  ) {}

  get signals(): MasterSignal[] {
    return Object.keys(this.handlers) as MasterSignal[];
  }

  push(sig: MasterSignal): void {
    this.queue.push(sig);
    this.wake?.();
  }

  /** Handle the queued signals, and every later one, for the rest of the master's life. */
  async loop(): Promise<void> {
    for (;;) {
      const sig = this.queue.shift();
      if (!sig) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      // several HUPs waiting would all load the same files: one reload does
      if (sig === 'SIGHUP' && this.queue.includes('SIGHUP')) continue;
      await this.handle(sig);
    }
  }

  /** Handle `sig` now, beside the one the loop is handling (it must not wait behind it). */
  handleNow(sig: MasterSignal): Promise<void> {
    return this.handle(sig);
  }

  /** The dispatcher: the one place a signal is logged and handled. */
  private async handle(sig: MasterSignal): Promise<void> {
    const name = sig.slice(3);
    if (this.stopping() && !STOP_SIGNALS.has(sig)) {
      this.log().info(`Ignoring signal ${name} while stopping`);
      return;
    }
    const { what, run } = this.handlers[sig];
    this.log().info(`Handling signal: ${name}${what ? `, ${what}` : ''}`);
    try {
      await run();
    } catch (err) {
      this.log().error(`handling ${name} failed`, err);
    }
  }
}
