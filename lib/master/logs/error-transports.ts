import type { Readable } from 'node:stream';
import type Transport from 'winston-transport';
import { checkTransports } from '../../config/log-transports.js';
import type { LogTransportsConfig, Settings } from '../../config/types.js';
import { ConfigError, oneLine } from '../../errors.js';
import type { MasterErrorLog } from '../../log/error-log.js';
import { readPipe } from '../../log/error-pipe.js';
import { CHANNELS } from '../../protocol/channel.js';
import { ChannelMeter, ReadValve } from '../intake/channel-gate.js';

/** How long a stopping master waits for the workers' pipes to be read to their end. */
const DRAIN_MS = 2000;
/** How long the errorLogTransports function may take: one that never settles must not wedge a reload. */
const FACTORY_MS = 10_000;

type Factory = () => Promise<Transport[]>;

/**
 * The error log's transports beside tsgund's file: a config's
 * errorLogTransports and --log-syslog. Made by one factory, called at start
 * and again on USR1 (so a File transport opens its path afresh after a
 * rotation) and on HUP (with the new config). While there are any, workers
 * write their entries to a pipe instead of the file, and the master logs them
 * here, through all transports, its file included. A part of MasterLogs
 * (master-logs.ts), which alone uses it.
 */
export class ErrorTransports {
  private factory: Factory | null = null;
  /** Counts the calls of a factory: a set made by an older call than the newest (a USR1 overtaken by a HUP) is dropped. */
  private calls = 0;
  /** The workers' pipes not yet read to their end. */
  private readonly pipes = new Set<Promise<void>>();
  /** Whether a worker forked now gets a pipe for its error log. */
  piped = false;

  constructor(private readonly log: MasterErrorLog) {}

  /** Make the transports of `settings` and the config file's exports; throws a one-line ConfigError. */
  async configure(settings: Settings, fileConfig: Record<string, unknown>): Promise<void> {
    const factory = factoryOf(settings, fileConfig as LogTransportsConfig);
    const transports = await this.make(factory);
    if (transports === null) return;
    this.factory = transports.length > 0 ? factory : null;
    this.piped = transports.length > 0;
    this.log.setExtraTransports(transports);
  }

  /** HUP: as configure, but a failure is logged and the running transports stay. */
  async reconfigure(settings: Settings, fileConfig: Record<string, unknown>): Promise<void> {
    try {
      await this.configure(settings, fileConfig);
    } catch (err) {
      this.log.error(`error log transports kept as they were: ${oneLine(err)}`);
    }
  }

  /** USR1: new transports from the same factory in place of the running ones. */
  async refresh(): Promise<void> {
    if (!this.factory) return;
    try {
      const transports = await this.make(this.factory);
      if (transports) this.log.setExtraTransports(transports);
    } catch (err) {
      this.log.error(`error log transports kept as they were: ${oneLine(err)}`);
    }
  }

  /** The transports `factory` makes, or null (and they are closed) when a newer call was made meanwhile. */
  private async make(factory: Factory): Promise<Transport[] | null> {
    const call = ++this.calls;
    const transports = await factory();
    if (call === this.calls) return transports;
    for (const t of transports) t.close?.();
    return null;
  }

  /**
   * Read a worker's error-log pipe (its fd 4) to the end: each entry is logged
   * under the worker's pid, within the pipe's budget (protocol/channel.ts).
   * Past it, or while the transports have not written what they took, the
   * master stops reading the pipe; the worker's lines then wait in the pipe
   * and in the worker, which drops (and counts) what it cannot hold.
   */
  attach(pid: number, pipe: Readable | null | undefined, clock: () => number = () => performance.now()): void {
    if (!pipe) return;
    const meter = new ChannelMeter(CHANNELS.errorPipe.budget, clock());
    const valve = new ReadValve('errorPipe', { stop: () => pipe.pause(), start: () => pipe.resume() });
    let waiting = false;
    const done = readPipe(
      pipe,
      (entry) => this.log.forward({ ...entry, pid }),
      (chars, lines) => {
        valve.holdFor(meter.spend(chars, lines, clock()));
        const busy = waiting ? null : this.log.busy();
        if (!busy) return;
        waiting = true;
        valve.holdUntil(busy.finally(() => (waiting = false)));
      },
    );
    this.pipes.add(done);
    void done.then(() => {
      valve.close();
      this.pipes.delete(done);
    });
  }

  /** Resolves once every worker's pipe was read to its end (or after a bound: a pipe an app's child holds open). */
  drained(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS)));
    return Promise.race([Promise.all(this.pipes), bound]).then(() => clearTimeout(timer));
  }
}

function factoryOf(settings: Settings, config: LogTransportsConfig): Factory {
  const { errorLogTransports: user, errorLogFormat: format } = config;
  return async () => {
    const made: Transport[] = [];
    try {
      if (user) made.push(...(await userTransports(user)));
      for (const t of made) if (format && !t.format) t.format = format;
      if (settings.logSyslog) {
        // loaded only when asked for: the master keeps its fast start
        const { createSyslogTransport } = await import('../../log/syslog.js');
        made.push(await createSyslogTransport(settings).catch(asSetting('logSyslogTo')));
      }
    } catch (err) {
      for (const t of made) t.close?.();
      throw err;
    }
    return made;
  };
}

async function userTransports(factory: () => unknown): Promise<Transport[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it did not return within ${FACTORY_MS / 1000} s`)), FACTORY_MS);
  });
  const made = await Promise.race([Promise.resolve().then(factory), late])
    .catch(asSetting('errorLogTransports', 'its function failed: '))
    .finally(() => clearTimeout(timer));
  // winston-transport only for a config that has transports: the master keeps its fast start
  const { default: ours } = await import('winston-transport');
  return checkTransports(made, ours);
}

const asSetting =
  (key: string, what = '') =>
  (err: unknown): never => {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`setting '${key}': ${what}${oneLine(err)}`);
  };
