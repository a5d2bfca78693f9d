import type http from 'node:http';
import type net from 'node:net';
import type { HookRunner } from '../config/hooks.js';
import { EXIT, UserError, oneLine } from '../errors.js';
import { monotonicMs } from '../grid.js';
import type { ErrorLog } from '../log/error-line.js';
import type { RequestMetrics } from '../protocol/request-metrics.js';
import { AppLoadError, type RequestListener } from './app-loader.js';
import type { Bind } from './binds.js';
import { Drainer } from './drain.js';
import { filterRequests, forwardedFilter } from './forwarded.js';
import { HangWatch } from './hang-watch.js';
import { beatDue, heartbeat } from './heartbeat.js';
import { RuntimeStats } from './runtime-stats.js';
import type { WorkerSpec, WorkerToMaster } from '../protocol/messages.js';
import { HANG_REPORT_FD } from '../protocol/descriptors.js';
import { type Phase, canEnter } from './phase.js';
import { TlsContext } from './tls-context.js';
import type { WorkerLogs } from './worker-logs.js';
import { acceptorsFor, checkTimeoutsOften, listenAll, refuseOverLimits, serveFromMaster } from './serve.js';

/** process.send as the app-ready interception keeps it (see app-ready.ts). */
export type ToMaster = (msg: WorkerToMaster, handle?: undefined, options?: object, cb?: () => void) => void;

/** The process around the runtime: its channel to the master, and its exit (a test gives its own). */
export interface WorkerHost {
  connected(): boolean;
  exit(code: number): void;
}

const processHost: WorkerHost = {
  connected: () => process.connected === true,
  exit: (code) => process.exit(code),
};

/** What the worker loads only when its settings use it (see boot.ts). */
export interface Features {
  hooks: HookRunner | null;
  requestMetrics: RequestMetrics | null;
  /** The status a response closed before it finished is counted as (from request-metrics.ts, loaded with it). */
  clientClosed: number;
}

/**
 * A worker's state and what it does with it: the request path, the one
 * server it serves on every bind, the drain and the exit. `phase` is the one
 * value every decision reads, and it changes only through enter().
 */
export class WorkerRuntime {
  private current: Phase = 'booting';
  features: Features = { hooks: null, requestMetrics: null, clientClosed: 0 };
  /** The hooks, only when preRequest or postRequest is set: one null check per request otherwise. */
  private requestHooks: HookRunner | null = null;
  binds: Bind[] = [];
  /** With sticky placement: the first bind's address, which the served server reports as its own. */
  stickyAddress: net.AddressInfo | null = null;
  closeApp: (() => unknown) | null = null;
  /** Sends the app's last metrics to the master, when it collects them (main.ts). */
  reportAppMetrics: (() => Promise<void>) | null = null;
  private requests = 0;
  drainer: Drainer | null = null;
  /** The one server this worker serves on all binds, and the promise of it listening. */
  served: net.Server | null = null;
  serving: Promise<void> | null = null;
  private onListenCalled: () => void = () => {};
  /** Resolves once the app has a server served (its own listen() or tsgund's). */
  readonly listenCalled = new Promise<void>((resolve) => (this.onListenCalled = resolve));
  readonly log: ErrorLog;
  readonly info: { pid: number; id: number; generation: number };
  /** The TLS context of the server tsgund created, renewed in place. */
  readonly tls: TlsContext;
  private readonly keepAliveMs: number;
  private readonly filterForwarded: ReturnType<typeof forwardedFilter>;
  /** stackOnTimeout: the heartbeat stamp its helper thread watches (none without a timeout). */
  private readonly hangWatch: HangWatch | null;
  /** Made with the first heartbeat: its built-ins stay out of the boot. */
  private runtimeStats: RuntimeStats | null = null;
  /** What the last heartbeat reported served (requests and connections), and when (see checkIn). */
  private lastBeat = { served: -1, at: 0 };
  /** A check-in found nothing served since the last heartbeat: the next request beats at once. */
  private quiet = false;

  constructor(
    readonly spec: WorkerSpec,
    /** The error log, the access log and their reopening (worker-logs.ts). */
    readonly logs: WorkerLogs,
    private readonly toMaster: ToMaster,
    private readonly host: WorkerHost = processHost,
  ) {
    this.log = logs.error;
    this.info = { pid: process.pid, id: Number(process.env.NODE_UNIQUE_ID ?? 0), generation: spec.generation };
    this.keepAliveMs = spec.settings.keepAlive * 1000;
    this.filterForwarded = forwardedFilter(spec.settings.forwardedAllowIps);
    const { timeout } = spec.settings;
    this.hangWatch =
      spec.hangReports && timeout > 0
        ? new HangWatch(timeout * 1000, HANG_REPORT_FD, (err) =>
            this.log.warning(`stackOnTimeout: the helper thread failed: ${oneLine(err)}`),
          )
        : null;
    this.tls = new TlsContext(this.log);
  }

  get settings(): WorkerSpec['settings'] {
    return this.spec.settings;
  }

  get phase(): Phase {
    return this.current;
  }

  /**
   * The one door of the phase: move to `to` if the transition table allows it
   * (phase.ts: only forward). Returns whether it did: a worker that began to
   * drain during its boot never enters 'serving'.
   */
  enter(to: Phase): boolean {
    if (!canEnter(this.current, to)) return false;
    this.current = to;
    return true;
  }

  /** The server to hand a connection to: only while serving. */
  get servingServer(): net.Server | null {
    return this.phase === 'serving' ? this.served : null;
  }

  send(msg: WorkerToMaster): void {
    if (this.host.connected()) this.toMaster(msg);
  }

  /**
   * The heartbeat timer: the loop turns (the hang watch's stamp); a heartbeat
   * goes to the master when the worker served since the last one, or the
   * idle interval ran out.
   */
  checkIn(now = monotonicMs()): void {
    this.hangWatch?.beat();
    const served = this.requests + (this.drainer?.accepted ?? 0);
    this.quiet = served === this.lastBeat.served;
    if (!beatDue(this.lastBeat, served, now, this.spec.idleHeartbeatMs ?? 0)) return;
    this.quiet = false;
    this.lastBeat = { served, at: now };
    this.send(this.heartbeat());
  }

  heartbeat(): WorkerToMaster {
    const { drainer } = this;
    this.runtimeStats ??= new RuntimeStats();
    const runtime = this.runtimeStats.sample(drainer?.open ?? 0);
    return heartbeat(this.requests, drainer?.accepted ?? 0, this.features.requestMetrics, runtime);
  }

  setFeatures(features: Features): void {
    this.features = features;
    const h = features.hooks;
    if (h && (h.has('preRequest') || h.has('postRequest'))) this.requestHooks = h;
  }

  /** What tsgund does for every request, before the app sees it. */
  private onRequest(d: Drainer, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.requests++ === 0) this.hangWatch?.start();
    // idle beats are rare: a request that may block now gets the whole timeout from here
    if (this.quiet) this.checkIn();
    d.onRequest(res);
    const { requestMetrics, clientClosed } = this.features;
    const accessLog = this.logs.access;
    if (requestMetrics) {
      const t0 = performance.now();
      const http2 = req.httpVersionMajor === 2;
      res.once('close', () =>
        requestMetrics.observe(
          res.writableFinished ? res.statusCode : clientClosed,
          (performance.now() - t0) / 1000,
          http2,
        ),
      );
    }
    if (this.keepAliveMs === 0) res.shouldKeepAlive = false;
    accessLog?.track(req, res);
    const hooks = this.requestHooks;
    if (hooks) {
      if (hooks.has('preRequest')) void hooks.call('preRequest', this.info, req);
      if (hooks.has('postRequest')) res.once('close', () => void hooks.call('postRequest', this.info, req, res));
    }
    const max = this.spec.maxRequests;
    if (max > 0 && this.requests === max) this.retire(`max requests (${max}) reached`);
  }

  /**
   * Serve `server` on every bind. With a `listener`, tsgund created the server
   * and calls the app itself; otherwise the server is the app's own (exported,
   * or listened by the app) and tsgund's work runs before the app's handlers.
   */
  serveServer(server: net.Server, listener: RequestListener | null): Promise<void> {
    if (this.served === server) return this.serving!;
    if (this.served) {
      return Promise.reject(
        new AppLoadError('the app listened a second server; tsgund serves one server per worker, on all of its binds'),
      );
    }
    this.served = server;
    const { sticky } = this.spec;
    if (this.filterForwarded) filterRequests(server, this.filterForwarded);
    checkTimeoutsOften(server);
    // with sticky placement the master accepts: nothing here listens on the binds
    const accepting = sticky ? [] : acceptorsFor(server, this.binds, this.settings.workerConnections);
    const d = new Drainer([server], accepting);
    this.drainer = d;
    if (listener) server.on('request', (req, res) => this.callApp(d, listener, req, res));
    else server.prependListener('request', (req, res) => this.onRequest(d, req, res));
    if (sticky) serveFromMaster(server, this.stickyAddress);
    this.serving = sticky ? Promise.resolve() : listenAll(accepting, this.binds, this.settings.backlog);
    this.onListenCalled();
    return this.serving;
  }

  private callApp(d: Drainer, listener: RequestListener, req: http.IncomingMessage, res: http.ServerResponse): void {
    this.onRequest(d, req, res);
    if (refuseOverLimits(this.settings, req, res)) return;
    try {
      const result = listener(req, res);
      if (result instanceof Promise) result.catch((err: unknown) => this.failRequest(res, err));
    } catch (err) {
      this.failRequest(res, err);
    }
  }

  private failRequest(res: http.ServerResponse, err: unknown): void {
    this.log.error('error handling request', err);
    if (res.headersSent) res.destroy();
    else {
      res.statusCode = 500;
      res.setHeader('content-type', 'text/plain');
      res.end('Internal Server Error\n');
    }
  }

  exitNow(code: number): void {
    if (!this.enter('exiting')) return; // already on its way out
    // flush the logs, but never let a stuck write keep the process around
    setTimeout(() => this.host.exit(code), 500).unref();
    void this.logs.close().finally(() => this.host.exit(code));
  }

  /**
   * Graceful stop: stop accepting, tell the app (process event 'tsgund:drain')
   * so it can close WebSockets and streams, wait for every connection to end,
   * close the app, run workerExit, then exit.
   */
  drainAndExit(): void {
    if (!this.enter('draining')) return;
    this.hangWatch?.stop();
    const d = this.drainer;
    d?.start(() => void this.afterDrain());
    (process as NodeJS.EventEmitter).emit('tsgund:drain');
    if (!d) void this.afterDrain();
  }

  private async afterDrain(): Promise<void> {
    if (this.closeApp) {
      try {
        await this.closeApp();
      } catch (err) {
        this.log.error('closing the app failed', err);
      }
    }
    await this.features.hooks?.call('workerExit', this.info);
    await this.reportAppMetrics?.();
    this.sendLastStats(() => this.exitNow(0));
  }

  /** A graceful exit first sends the requests counted since the last heartbeat, so none is lost. */
  private sendLastStats(then: () => void): void {
    // a turn later, so that responses closed along with the last connection are counted
    setImmediate(() => {
      if (!this.features.requestMetrics || !this.host.connected()) {
        then();
        return;
      }
      let done = false;
      const once = () => {
        if (done) return;
        done = true;
        then();
      };
      setTimeout(once, 500);
      this.toMaster(this.heartbeat(), undefined, {}, once);
    });
  }

  retire(reason: string): void {
    if (!canEnter(this.phase, 'draining')) return;
    this.log.info(`worker retiring: ${reason}`);
    this.send({ type: 'retiring', reason });
    this.drainAndExit();
  }

  /**
   * TERM, from the master or from anyone: tell the master first (so that it
   * expects the exit and refills the slot), then drain.
   */
  terminated(): void {
    this.log.info('worker received TERM, finishing in-flight requests');
    if (!canEnter(this.phase, 'draining')) return;
    this.send({ type: 'retiring', reason: 'received TERM', signal: 'SIGTERM' });
    this.drainAndExit();
  }

  /** INT or QUIT: gunicorn's worker_int, then workerExit, then exit at once. */
  quickExit(): void {
    const h = this.features.hooks;
    if (!h) {
      this.exitNow(0);
      return;
    }
    void h
      .call('workerInt', this.info)
      .then(() => h.call('workerExit', this.info))
      .finally(() => this.exitNow(0));
  }

  bootFailed(err: unknown): void {
    if (this.phase === 'exiting' || this.phase === 'draining') return; // a drain during the boot ends it
    const exitCode = err instanceof UserError ? err.exitCode : EXIT.boot;
    const message = err instanceof UserError ? err.message : `worker failed to boot: ${oneLine(err)}`;
    this.send({ type: 'boot-error', exitCode, message });
    this.exitNow(exitCode);
  }
}
