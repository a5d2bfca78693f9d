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
}

export interface StatusSnapshot {
  name: string;
  pid: number;
  app: string;
  generation: number;
  targetWorkers: number;
  state: 'starting' | 'running' | 'paused' | 'reloading' | 'stopping';
  uptimeMs: number;
  rss: number;
  /** Workers that died unexpectedly and were replaced. */
  restarts: number;
  /** Messages from workers the master did not act on, by reason (see lib/master/worker-messages.ts). */
  ignoredMessages?: Record<string, number>;
  listeners: string[];
  workers: WorkerStatus[];
}
