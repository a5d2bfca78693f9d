// What the master runs beside its workers: the pidfile, the control socket
// (`tsgund status`), the statsBind listener, the --reload file watcher and
// the orphan reaper of a master running as PID 1.

import type { FSWatcher } from 'chokidar';
import type { Settings } from '../../config/types.js';
import { controlSocketPath } from '../../control/protocol.js';
import { startControlServer, type ControlServer } from '../../control/server.js';
import type { StatusSnapshot } from '../../protocol/status.js';
import type { ErrorLog } from '../../log/error-line.js';
import { parseAppSpec } from '../../worker/app-loader.js';
import { MasterStats } from './master-stats.js';
import { Pidfile } from '../process/pidfile.js';
import { Reaper } from '../process/reaper.js';
import { notifySystemd } from '../process/systemd-notify.js';
import type { Upgrade } from '../process/upgrade.js';
import type { WorkerHandle } from '../pool/worker-handle.js';
import type { CertRenewal } from './cert-renewal.js';
import { monotonic } from '../../clock.js';
import type { MasterToWorker } from '../../protocol/messages.js';

export interface ServiceContext {
  log: ErrorLog;
  cwd: string;
  upgrade: Upgrade;
  snapshot(): StatusSnapshot;
  workers(): readonly WorkerHandle[];
  /** A watched file changed (--reload). */
  changed(): void;
}

export class MasterServices {
  /** The statsBind listener and its metrics (null unless statsBind is set). */
  stats: MasterStats | null = null;
  private pidfile: Pidfile | null = null;
  private control: ControlServer | null = null;
  private watcher: FSWatcher | null = null;
  /** Reaps orphaned processes when the master is PID 1 (a container without --init); null otherwise. */
  private reaper: Reaper | null = null;
  /** Renews the certificate of tsgund's TLS servers in place (null without certfile). */
  private certs: CertRenewal | null = null;

  constructor(private readonly ctx: ServiceContext) {}

  startReaper(): void {
    this.reaper = Reaper.forMaster(this.ctx.log);
  }

  async claimPidfile(settings: Settings): Promise<void> {
    if (!settings.pidfile) return;
    this.pidfile = new Pidfile(settings.pidfile + (this.ctx.upgrade.isChild ? '.2' : ''), settings.controlSocket);
    await this.pidfile.claim();
  }

  /** The control socket and the statsBind listener. */
  async start(settings: Settings): Promise<void> {
    const { log, upgrade } = this.ctx;
    const controlPath = controlSocketPath(settings.controlSocket, settings.pidfile, upgrade.isChild);
    const status = () => this.ctx.snapshot();
    const appStatus = async () => this.stats?.appStatus() ?? null;
    if (controlPath) this.control = await startControlServer(controlPath, status, log, appStatus);
    if (settings.statsBind)
      this.stats = await MasterStats.start(settings.statsBind, status, this.ctx.workers, log, upgrade.isChild);
  }

  /** --reload: watch the app and reloadExtraFiles (development only: chokidar is loaded on demand). */
  async watch(settings: Settings): Promise<void> {
    const { watchForReload } = await import('../process/file-watcher.js');
    const { log } = this.ctx;
    const onChange = (file: string) => {
      log.info(`${file} changed, reloading`);
      this.ctx.changed();
    };
    const { module } = parseAppSpec(settings.app!);
    const dir = settings.chdir ?? this.ctx.cwd;
    this.watcher = watchForReload(module, dir, settings.reloadExtraFiles, onChange, () =>
      log.info('Watching for file changes (--reload)'),
    );
  }

  /** Watch certfile and keyfile, and send a renewed pair to every worker (cert-renewal.ts, loaded only with TLS). */
  async watchCerts(settings: Settings): Promise<void> {
    if (!settings.certfile || !settings.keyfile) return;
    const { CertRenewal } = await import('./cert-renewal.js');
    const send = (pair: { cert: string; key: string }): number => {
      let reached = 0;
      for (const h of this.ctx.workers()) {
        if (!h.worker.isConnected()) continue;
        h.worker.send({ type: 'tls-context', ...pair } satisfies MasterToWorker);
        reached++;
      }
      return reached;
    };
    this.certs = new CertRenewal(settings.certfile, settings.keyfile, this.ctx.log, send, monotonic);
    this.certs.start();
  }

  /** USR1: look at certfile and keyfile now. */
  renewCerts(): void {
    this.certs?.renew();
  }

  /** One turn of the master's loop: reap orphans. */
  sweep(): void {
    this.reaper?.sweep();
  }

  /** The old master exited: this one takes its pidfile, control socket and `name` (its own, without '.2'). */
  promote(settings: Settings, name: () => string): void {
    if (this.pidfile && settings.pidfile) this.pidfile.moveTo(settings.pidfile);
    this.ctx.upgrade.promote();
    const controlPath = controlSocketPath(settings.controlSocket, settings.pidfile);
    if (controlPath) this.control?.moveTo(controlPath);
    process.title = `${name()}: master [${settings.app}]`;
    this.ctx.log.info(`Old master exited; this master (${process.pid}) is now ${name()}`);
    notifySystemd('READY=1');
  }

  close(): void {
    void this.watcher?.close();
    this.certs?.close();
    this.pidfile?.remove();
    this.control?.close();
    this.stats?.close();
  }
}
