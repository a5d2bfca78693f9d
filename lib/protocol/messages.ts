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
  heartbeatMs: number;
  /** The log files the master opened for this worker (inherited descriptors). */
  logFds: WorkerLogFds;
  /** Count requests and send the deltas in heartbeats (the master serves statsBind). */
  stats?: boolean;
  /** Sticky placement: the master accepts and sends each connection; the worker never accepts on the binds. */
  sticky?: boolean;
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

export type WorkerToMaster =
  | { type: 'want-sockets' }
  /** `tls`: the server is the app's own TLS server (tsgund's own is known from certfile). */
  | { type: 'ready'; tls?: true }
  | { type: 'boot-error'; exitCode: number; message: string }
  | { type: 'heartbeat'; requests: number; accepted: number; rss: number; stats?: RequestDelta }
  /** It drains on its own (max-requests, a log it cannot reopen) or because it got TERM (`signal`) from anyone. */
  | { type: 'retiring'; reason: string; signal?: 'SIGTERM' }
  /** prom-client's cluster protocol, answered by the app's own prom-client (checked in depth by app-metrics.ts). */
  | { type: 'prom-client:getMetricsRes'; requestId: number; metrics?: unknown; error?: unknown };
