import { resolve } from 'node:path';
import type { RuntimeSample } from './messages.js';

/** What `tsgund status` shows: the master and each of its workers. */
export interface WorkerStatus {
  pid: number;
  id: number;
  generation: number;
  state: 'booting' | 'ready' | 'draining' | 'stopping';
  uptimeMs: number;
  requests: number;
  /** Connections this worker accepted (keep-alive connections count once). */
  accepted: number;
  /** Its worker slot: with reusePort, the socket it accepts on. */
  slot: number;
  /** Milliseconds from its fork to its ready message (null while booting). */
  bootMs: number | null;
  rss: number;
  /** Its runtime health from its last heartbeat (none before the first, or from an older worker). */
  runtime?: RuntimeStatus;
}

export interface LoopStatus {
  delayP50: number;
  delayP99: number;
  delayMax: number;
}

/** A worker's runtime health: its last heartbeat's sample. */
export type RuntimeStatus = RuntimeSample;

/** One generation of workers and which settings it runs. */
export interface GenerationStatus {
  generation: number;
  /** serving: the current one; booting: a reload's candidate; draining: an old one whose workers are stopping. */
  role: 'serving' | 'booting' | 'draining';
  configPath: string | null;
  /** A short digest of its settings: two generations with the same digest run the same settings. */
  digest: string;
  app: string;
  /** When it was created (ISO 8601). */
  createdAt: string;
  /** Its workers that have not exited. */
  workers: number;
}

export interface StatusSnapshot {
  name: string;
  pid: number;
  app: string;
  /** The PM2 ecosystem file (absolute path) the master's app entry comes from; absent for other masters. */
  ecosystem?: string;
  generation: number;
  targetWorkers: number;
  state: 'starting' | 'running' | 'paused' | 'reloading' | 'stopping';
  uptimeMs: number;
  rss: number;
  /** The master's own event-loop delay over the last 10 s or so, in ms (from the second status request on). */
  loop?: LoopStatus;
  /** Workers that died unexpectedly and were replaced. */
  restarts: number;
  /** Messages from workers the master did not act on, by reason (see protocol/worker-message-schemas.ts). */
  ignoredMessages?: Record<string, number>;
  /** Times the master stopped reading a worker's channel because a budget was spent, by channel (protocol/channel.ts). */
  channelPauses?: Record<string, number>;
  listeners: string[];
  /** Why the master cannot place new connections now (sticky placement by X-Forwarded-For); absent when it can. */
  placementBlocked?: string;
  /** The generations that have workers or are booting, oldest first (an older master does not send them). */
  generations?: GenerationStatus[];
  workers: WorkerStatus[];
  /** Where the workers write their logs: absolute paths, '-' for stdout or stderr, null for no access log. */
  logs: LogLocations;
  /** The last stuck workers' stacks (stackOnTimeout), oldest first. */
  hangs?: HangRecord[];
  /** The app's own prom-client metrics, aggregated over the workers (`status --json` with statsBind). */
  appMetrics?: AppMetricsStatus;
  /** How the last reload (HUP) and upgrade (USR2) went: `tsgund reload` waits for a newer one. */
  operations?: Record<OperationKind, OperationStatus>;
}

export type OperationKind = 'reload' | 'upgrade';

/**
 * The signals of one kind the master has received, and the outcome of the
 * last one it handled. `last.seq` is the count of signals received when that
 * one began: a waiter that read `requested` before signalling waits for an
 * outcome with a larger `seq`, which began after its own signal arrived.
 */
export interface OperationStatus {
  requested: number;
  last: OperationOutcome | null;
}

export interface OperationOutcome {
  seq: number;
  result: 'ok' | 'failed';
  /** Why it failed, on one line (null when it succeeded). */
  reason: string | null;
  /** What it left serving: the generation a reload made, the pid of the master an upgrade started. */
  detail: string;
  /** When it ended (ISO 8601). */
  at: string;
}

/** A stuck worker's report (stackOnTimeout): its frames, or its kernel state when it was blocked in native code. */
export interface HangRecord {
  pid: number;
  generation: number;
  slot: number;
  /** When the master got it (ISO 8601). */
  at: string;
  /** How long it had sent no heartbeat, in ms. */
  stuckMs: number;
  frames: Array<{ fn: string; file: string; line: number; column: number }>;
  /** Frames left out after the first ones. */
  more: number;
  native?: { state: string; wchan: string };
}

/** prom-client's registry JSON of the app's metrics, and how many workers answered. */
export interface AppMetricsStatus {
  workers: { asked: number; answered: number };
  metrics: Array<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
  }>;
}

export interface LogLocations {
  errorlog: string;
  accesslog: string | null;
}

/** The log settings with relative paths resolved from `cwd`, the directory the master opened them from. */
export const logLocations = (s: LogLocations, cwd: string): LogLocations => ({
  errorlog: s.errorlog === '-' ? '-' : resolve(cwd, s.errorlog),
  accesslog: s.accesslog === null || s.accesslog === '-' ? s.accesslog : resolve(cwd, s.accesslog),
});
