// What the master runs beside its workers: the pidfile, the control socket
// (`tsgund status`), the statsBind listener, the --reload file watcher and
// the orphan reaper of a master running as PID 1.

import type { FSWatcher } from 'chokidar';
import type { Settings } from '../../config/types.js';
import { controlSocketPath } from '../../control/protocol.js';
import { ensureRunDir, isValidName, registeredName, registeredSocket } from '../../control/run-dir.js';
import { startControlServer, type AppMetricsSource, type ControlServer } from '../../control/server.js';
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
  /** The control socket in the run directory, under the master's name (null: not registered). */
  private registration: ControlServer | null = null;
  private watcher: FSWatcher | null = null;
  /** Reaps orphaned processes when the master is PID 1 (a container without --init); null otherwise. */
  private reaper: Reaper | null = null;
  /** Renews the certificate of tsgund's TLS servers in place (null without certfile). */
  private certs: CertRenewal | null = null;
  /** A USR1 that came before the certificate watch was set up: renew once it is. */
  private renewAsked = false;

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
    this.registration = await this.register(settings, controlPath, status, appStatus);
    if (settings.statsBind)
      this.stats = await MasterStats.start(settings.statsBind, status, this.ctx.workers, log, upgrade.isChild);
  }

  /**
   * Register under the master's name (with '.2' while an upgrade's old master
   * runs). Never fatal: a master that cannot register serves all the same,
   * only `tsgund ls` and commands by name do not reach it.
   */
  private async register(
    settings: Settings,
    controlPath: string | null,
    status: () => StatusSnapshot,
    appStatus: AppMetricsSource,
  ): Promise<ControlServer | null> {
    const { log, upgrade } = this.ctx;
    const name = registeredName(settings.name, settings.app);
    if (!isValidName(name)) {
      log.warning(`not registered in the run directory: name '${name}' is not a plain file name (set --name)`);
      return null;
    }
    try {
      const path = registeredSocket(ensureRunDir(), name + (upgrade.isChild ? '.2' : ''));
      if (path === controlPath) return null;
      return await startControlServer(path, status, log, appStatus);
    } catch (err) {
      log.warning(`not registered as '${name}' (tsgund ls will not list this master): ${(err as Error).message}`);
      return null;
    }
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

  /**
   * Watch certfile and keyfile, and send a renewed pair to every worker
   * (cert-renewal.ts, loaded only with TLS). After a reload, the files the
   * new generation's settings name: a HUP may have pointed them elsewhere.
   */
  async watchCerts(settings: Settings): Promise<void> {
    const { certfile, keyfile } = settings;
    if (this.certs?.watches(certfile, keyfile)) return;
    this.certs?.close();
    this.certs = null;
    if (!certfile || !keyfile) return;
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
    this.certs = new CertRenewal(certfile, keyfile, this.ctx.log, send, monotonic);
    this.certs.start();
    if (this.renewAsked) this.certs.renew();
    this.renewAsked = false;
  }

  /** USR1: look at certfile and keyfile now (once the watch is set up, if a USR1 came before it). */
  renewCerts(): void {
    if (this.certs) this.certs.renew();
    else this.renewAsked = true;
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
    this.registration?.moveTo(registeredSocket(ensureRunDir(), registeredName(settings.name, settings.app)));
    process.title = `${name()}: master [${settings.app}]`;
    this.ctx.log.info(`Old master exited; this master (${process.pid}) is now ${name()}`);
    notifySystemd('READY=1');
  }

  close(): void {
    void this.watcher?.close();
    this.certs?.close();
    this.pidfile?.remove();
    this.control?.close();
    this.registration?.close();
    this.stats?.close();
  }
}
