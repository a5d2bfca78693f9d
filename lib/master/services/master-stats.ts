// The statsBind listener of the master and what it reads: the master's own
// metrics, and the app's prom-client metrics collected from the ready
// workers. Loaded on demand: prom-client only when statsBind is set.

import type { AppMetricsStatus, StatusSnapshot } from '../../protocol/status.js';
import type { ErrorLog } from '../../log/error-line.js';
import type { AppMetricsCollector, AppScrape } from '../../stats/app-metrics-collector.js';
import { AppMetricsLedger } from '../../stats/app-metrics-ledger.js';
import { FINAL_REPORT_ID, parseMetricsAnswer } from '../../protocol/app-metrics.js';
import type { MasterMetrics } from '../../stats/master-metrics.js';
import type { StatsServer } from '../../stats/server.js';
import type { WorkerHandle } from '../pool/worker-handle.js';

export class MasterStats {
  private server: StatsServer | null = null;
  /** The app's counters and histograms of workers that are gone or did not answer (app-metrics-ledger.ts). */
  private readonly ledger: AppMetricsLedger;

  private constructor(
    readonly metrics: MasterMetrics,
    /** Asks the workers for the app's own prom-client metrics. */
    readonly app: AppMetricsCollector,
    private readonly workers: () => readonly WorkerHandle[],
  ) {
    this.ledger = new AppMetricsLedger({
      unreported: () => metrics.appUnreportedExit(),
      dropped: () => metrics.appSeriesDropped(),
    });
  }

  static async start(
    address: string,
    snapshot: () => StatusSnapshot,
    workers: () => readonly WorkerHandle[],
    log: ErrorLog,
    waitIfBusy: boolean,
  ): Promise<MasterStats> {
    const { MasterMetrics, startStatsServer, statsSource } = await import('../../stats/server.js');
    const { AppMetricsCollector } = await import('../../stats/app-metrics-collector.js');
    const warn = (message: string) => log.warning(message);
    const stats = new MasterStats(new MasterMetrics(warn), new AppMetricsCollector(warn), workers);
    const source = statsSource(snapshot, stats.metrics, () => stats.collect());
    stats.server = await startStatsServer(address, source, log, { waitIfBusy });
    return stats;
  }

  /** Ask the ready workers for the app's prom-client metrics (see app-metrics-collector.ts). */
  async collect(): Promise<AppScrape | null> {
    const peers = this.workers()
      .filter((h) => h.state === 'ready' && h.worker.isConnected())
      .map((h) => ({ pid: h.pid, send: (msg: object) => h.worker.send(msg) }));
    const scrape = await this.app.collect(peers);
    if (!scrape) return null;
    scrape.answers.forEach((metrics, i) => {
      this.ledger.record(scrape.pids[i]!, metrics);
    });
    return { ...scrape, answers: this.ledger.complete(scrape.answers, scrape.pids) };
  }

  /**
   * An answer of prom-client's protocol from worker `h`: to a scrape, or its
   * final report, taken once, and only from a worker that serves or drains.
   */
  onAnswer(h: WorkerHandle, msg: { requestId: number }): void {
    if (msg.requestId !== FINAL_REPORT_ID) {
      this.app.onAnswer(h.pid, msg);
      return;
    }
    if (this.ledger.hasFinal(h.pid) || (h.state !== 'ready' && h.state !== 'draining')) return;
    const answer = parseMetricsAnswer(msg);
    if (answer.ok) this.ledger.final(h.pid, answer.metrics);
  }

  /** The worker `h` exited: its last values join the totals. */
  exited(h: WorkerHandle): void {
    this.app.forget(h.pid);
    this.ledger.exited(h.pid, h.readyAt > 0);
  }

  /** The app's metrics for `tsgund status --json`. */
  async appStatus(): Promise<AppMetricsStatus | null> {
    const scrape = await this.collect();
    return scrape && this.metrics.appStatus(scrape);
  }

  close(): void {
    this.server?.close();
  }
}
