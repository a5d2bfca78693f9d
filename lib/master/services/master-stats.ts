// The statsBind listener of the master and what it reads: the master's own
// metrics, and the app's prom-client metrics collected from the ready
// workers. Loaded on demand: prom-client only when statsBind is set.

import type { AppMetricsStatus, StatusSnapshot } from '../../protocol/status.js';
import type { ErrorLog } from '../../log/error-line.js';
import type { AppMetricsCollector, AppScrape } from '../../stats/app-metrics-collector.js';
import type { MasterMetrics } from '../../stats/master-metrics.js';
import type { StatsServer } from '../../stats/server.js';
import type { WorkerHandle } from '../pool/worker-handle.js';

export class MasterStats {
  private server: StatsServer | null = null;

  private constructor(
    readonly metrics: MasterMetrics,
    /** Asks the workers for the app's own prom-client metrics. */
    readonly app: AppMetricsCollector,
    private readonly workers: () => readonly WorkerHandle[],
  ) {}

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
  collect(): Promise<AppScrape | null> {
    const peers = this.workers()
      .filter((h) => h.state === 'ready' && h.worker.isConnected())
      .map((h) => ({ pid: h.pid, send: (msg: object) => h.worker.send(msg) }));
    return this.app.collect(peers);
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
