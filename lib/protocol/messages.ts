import type { Settings } from '../config/types.js';
import type { MetricsRequest } from './app-metrics.js';
import type { RequestDelta } from './request-metrics.js';

/** A worker's state as the master tracks it; each message kind is allowed in some states only. */
export type WorkerState = 'booting' | 'ready' | 'draining' | 'stopping';

/** What a worker needs to know, passed by the master in the TSGUND_WORKER env var. */
export interface WorkerSpec {
  settings: Settings;
  configPath: string | null;
  generation: number;
  /** This worker's own request limit, jitter included (0: none). */
  maxRequests: number;
  /** How often the worker checks in: a heartbeat when it served since the last one. */
  heartbeatMs: number;
  /** The longest an idle worker goes without a heartbeat (absent: every check is one). */
  idleHeartbeatMs?: number;
  /** The log files the master opened for this worker (inherited descriptors). */
  logFds: WorkerLogFds;
  /** Count requests and send the deltas in heartbeats (the master serves statsBind). */
  stats?: boolean;
  /** Sticky placement: the master accepts and sends each connection; the worker never accepts on the binds. */
  sticky?: boolean;
  /** stackOnTimeout: the pipe a stuck worker's stack goes to the master through (HANG_REPORT_FD). */
  hangReports?: boolean;
  /** Nothing is bound (`bind: []`): no sockets come, and the app is ready once it has loaded (a background app). */
  noBinds?: boolean;
}

/** The fds a worker writes its logs to: 1 or 2 for its own stdout or stderr (accesslog null: none). */
export interface WorkerLogFds {
  errorlog: number;
  accesslog: number | null;
  /** errorlog is a pipe to the master, which logs each entry through its transports (log/error-pipe.ts). */
  errorlogPipe?: boolean;
  /** The socket the master sends the fresh log files through on USR1 (log/fd-handover.ts); none without the native addon. */
  handover?: number;
}

export const WORKER_ENV = 'TSGUND_WORKER';

/** A worker's runtime health, sent with each heartbeat (lib/worker/runtime-stats.ts). */
export interface RuntimeSample {
  /** Event-loop delay since the previous heartbeat, in ms: median, 99th percentile, maximum. */
  delayP50: number;
  delayP99: number;
  delayMax: number;
  /** Event-loop utilisation since the previous heartbeat, 0 to 1. */
  utilization: number;
  /** V8 heap used and its limit, in bytes. */
  heapUsed: number;
  heapLimit: number;
  /** Garbage-collection pauses since the worker started, in ms. */
  gcMs: number;
  /** Connections open now. */
  connections: number;
}

/** One frame of a stuck main thread's stack; line and column count from 1. */
export interface HangFrame<Text extends string = string> {
  fn: Text;
  file: Text;
  line: number;
  column: number;
}

/**
 * What the helper thread saw of a stuck main thread: its JavaScript frames,
 * or (when it did not pause: blocked in native code) its kernel state.
 */
export interface HangReport<Text extends string = string> {
  type: 'hang';
  /** How long the event loop had not turned, in ms. */
  stuckMs: number;
  frames: HangFrame<Text>[];
  /** Frames left out beyond the first ones. */
  more: number;
  /** Only when no JavaScript stack was taken: the main thread's state letter and wait channel from /proc. */
  native?: { state: Text; wchan: Text };
}

export type MasterToWorker =
  | { type: 'socket'; index: number; total: number; label: string }
  /** With reusePort: accept on slot `slot`'s socket of listener `index` too, until released. */
  | { type: 'adopt'; slot: number; index: number }
  | { type: 'release'; slot: number }
  /** prom-client's cluster request for the app's metrics (lib/worker/app-metrics.ts answers it). */
  | MetricsRequest
  /**
   * Sticky placement: a connection the master accepted, sent along as the
   * handle, with the bytes it read of it first (base64), if any.
   */
  | { type: 'sticky-connection'; head?: string }
  /** A renewed TLS certificate and key (PEM), read and checked by the master, for the server tsgund created. */
  | { type: 'tls-context'; cert: string; key: string };

/**
 * What a worker tells the master. `Text` is the type of its text fields: a
 * worker sends strings; the master acts on them escaped (WorkerText, as
 * protocol/worker-message-schemas.ts gives them), a boot report's lines each.
 */
export type WorkerToMaster<Text extends string = string> =
  | { type: 'want-sockets' }
  /** `tls`: the server is the app's own TLS server (tsgund's own is known from certfile). */
  | { type: 'ready'; tls?: true }
  | { type: 'boot-error'; exitCode: number; message: Text }
  | {
      type: 'heartbeat';
      requests: number;
      accepted: number;
      rss: number;
      stats?: RequestDelta;
      runtime?: RuntimeSample;
    }
  /** It drains on its own (max-requests, a log it cannot reopen) or because it got TERM (`signal`) from anyone. */
  | { type: 'retiring'; reason: Text; signal?: 'SIGTERM' }
  /** Sent by the helper thread through HANG_REPORT_FD, never over IPC (the main thread is stuck). */
  | HangReport<Text>
  /** prom-client's cluster protocol, answered by the app's own prom-client (checked in depth by app-metrics.ts). */
  | { type: 'prom-client:getMetricsRes'; requestId: number; metrics?: unknown; error?: unknown };
