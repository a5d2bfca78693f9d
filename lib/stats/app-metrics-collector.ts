// One scrape of the app's metrics: ask every ready worker, wait for the
// answers for at most `timeoutMs`, and give back what arrived. Each scrape
// has its own requestId, so concurrent scrapes never mix answers, and an
// answer to no pending question is dropped before it is even checked.
//
// A worker that misses the timeout is marked late, and later scrapes do not
// wait for it (they still ask, and take its answer if it comes in time): a
// worker stuck in a long computation delays one scrape, not every one. Any
// answer from it, even one that comes after its scrape ended, clears the mark.

import cluster from 'node:cluster';
import { METRICS_REQUEST, parseMetricsAnswer, type AppMetric, type MetricsRequest } from '../protocol/app-metrics.js';

/** A worker as the collector sees it (by pid). */
export interface MetricsPeer {
  pid: number;
  send(msg: MetricsRequest): void;
}

export interface AppScrape {
  /** One list of metrics per worker that answered, for `AggregatorRegistry.aggregate`. */
  answers: AppMetric[][];
  asked: number;
  answered: number;
}

export interface CollectorTimers {
  set(fn: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

const realTimers: CollectorTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (t) => clearTimeout(t as NodeJS.Timeout),
};

interface Pending {
  /** Workers asked that have not answered yet. */
  waiting: Set<number>;
  /** Of those, the ones the scrape waits for (the others are late). */
  awaited: Set<number>;
  answers: AppMetric[][];
  asked: number;
  finish: () => void;
}

export const APP_METRICS_TIMEOUT_MS = 1000;

/**
 * App code run in the master (preload) may have created a prom-client
 * AggregatorRegistry there: its listener on cluster messages throws on
 * answers to requests it did not send, which would take the master down.
 * tsgund itself listens on each worker, never on the cluster.
 */
const appListensInMaster = (): boolean => cluster.listenerCount('message') > 0;

export class AppMetricsCollector {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly late = new Set<number>();
  /** Workers whose malformed answers were already logged (one line each). */
  private readonly warned = new Set<number>();
  private warnedListener = false;

  constructor(
    private readonly warn: (message: string) => void,
    private readonly timeoutMs = APP_METRICS_TIMEOUT_MS,
    private readonly timers: CollectorTimers = realTimers,
    private readonly blocked: () => boolean = appListensInMaster,
  ) {}

  /**
   * Ask `peers` and resolve with the answers that came in time; never rejects.
   * Null when nobody may be asked (see appListensInMaster).
   */
  collect(peers: readonly MetricsPeer[]): Promise<AppScrape | null> {
    if (this.blocked()) {
      if (!this.warnedListener)
        this.warn("app metrics are not collected: app code in the master listens to the workers' messages");
      this.warnedListener = true;
      return Promise.resolve(null);
    }
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      let timer: unknown = null;
      const p: Pending = {
        waiting: new Set(),
        awaited: new Set(),
        answers: [],
        asked: 0,
        finish: () => {
          if (!this.pending.delete(requestId)) return;
          if (timer !== null) this.timers.clear(timer);
          for (const id of p.awaited) this.late.add(id);
          resolve({ answers: p.answers, asked: p.asked, answered: p.answers.length });
        },
      };
      this.pending.set(requestId, p);
      for (const peer of peers) {
        try {
          peer.send({ type: METRICS_REQUEST, requestId });
        } catch {
          continue; // its channel just closed; its exit is handled elsewhere
        }
        p.asked++;
        p.waiting.add(peer.pid);
        if (!this.late.has(peer.pid)) p.awaited.add(peer.pid);
      }
      if (p.awaited.size === 0) return p.finish();
      timer = this.timers.set(p.finish, this.timeoutMs);
    });
  }

  /** A `prom-client:getMetricsRes` message from the worker `pid`. */
  onAnswer(pid: number, msg: unknown): void {
    const requestId = (msg as { requestId?: unknown }).requestId;
    const p = typeof requestId === 'number' ? this.pending.get(requestId) : undefined;
    if (!p?.waiting.has(pid)) {
      // too late for its scrape, but alive: wait for it again from the next one
      if (typeof requestId === 'number' && requestId < this.nextId) this.late.delete(pid);
      return;
    }
    p.waiting.delete(pid);
    p.awaited.delete(pid);
    this.late.delete(pid);
    const answer = parseMetricsAnswer(msg);
    if (answer.ok) p.answers.push(answer.metrics);
    if (answer.ok && answer.unsupported.length)
      this.warnOnce(pid, `metrics with an unknown aggregator left out: ${answer.unsupported.slice(0, 5).join(', ')}`);
    if (!answer.ok) this.warnOnce(pid, `answer dropped: ${answer.why}`);
    if (p.awaited.size === 0) p.finish();
  }

  /** The worker exited: forget it. */
  forget(pid: number): void {
    this.late.delete(pid);
    this.warned.delete(pid);
    for (const p of this.pending.values()) {
      p.waiting.delete(pid);
      if (p.awaited.delete(pid) && p.awaited.size === 0) p.finish();
    }
  }

  private warnOnce(pid: number, message: string): void {
    if (this.warned.has(pid)) return;
    this.warned.add(pid);
    this.warn(`app metrics of worker ${pid}: ${message}`);
  }
}
