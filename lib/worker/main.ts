import '../early-signals.js';
import './ignore-signals.js';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import { handleSignal } from '../early-signals.js';
import { EXIT, UserError, oneLine } from '../errors.js';
import type { AccessLog } from '../log/access-log.js';
import { createWorkerErrorLog } from '../log/error-pipe.js';
import { type NativeHandle, listenOnHandle, stopAccepting } from '../listeners/handles.js';
import { AS_ALLOWED, AppLoadError, describeValue, loadApp, type RequestListener } from './app-loader.js';
import { awaitAppReady, interceptAppReady } from './app-ready.js';
import { appPort, describeBind, refuseListen, type Bind } from './binds.js';
import { Drainer } from './drain.js';
import { reopenLogs } from './reopen-logs.js';
import { filterRequests, forwardedFilter } from './forwarded.js';
import { type HookRunner, loadWorkerHooks } from '../config/hooks.js';
import { interceptListen, type ListenTarget } from './listen-hook.js';
import {
  acceptorsFor,
  checkTimeoutsOften,
  createServer,
  listenAll,
  refuseOverLimits,
  serveFromMaster,
  socketAddress,
} from './serve.js';
import { WORKER_ENV, type MasterToWorker, type WorkerSpec, type WorkerToMaster } from './messages.js';
import { CLIENT_CLOSED, RequestMetrics } from '../stats/request-metrics.js';
import { METRICS_REQUEST } from '../stats/app-metrics.js';
import { appMetricsResponder } from './app-metrics.js';

const spec = JSON.parse(process.env[WORKER_ENV] ?? 'null') as WorkerSpec;
const { settings } = spec;
// The master opened the log files (this process may not be allowed to) and passed their descriptors.
const { logFds } = spec;
const log = createWorkerErrorLog(settings, logFds.errorlog, logFds.errorlogPipe === true);
// Loaded in boot() only when configured: a worker imports what its settings use
// (the access log, TLS, the config file's hooks), each a measurable part of its boot.
let accessLog: AccessLog | null = null;
// before any app code: the app's process.send('ready') never reaches the master as a message
const { toMaster, said: appSaidReady } = interceptAppReady();
const send = (msg: WorkerToMaster): void => {
  if (process.connected) toMaster(msg);
};

process.title = `${settings.name}: worker [${settings.app}]`;

// The master owns this process: when it goes away (even SIGKILLed), leave at once.
process.on('disconnect', () => exitNow(0));

handleSignal('SIGUSR1', () => {
  log.info('reopening log files');
  const failed = reopenLogs({ errorlog: log, accesslog: accessLog }, logFds.handover);
  // still on the old files, which logrotate may compress or delete: a replacement gets the fresh ones at fork
  if (failed) retire(`cannot reopen log file: ${failed}`);
});

if (settings.captureOutput) {
  const capture =
    (level: 'info' | 'error') =>
    (chunk: string | Uint8Array): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      for (const line of text.split('\n')) if (line) log[level](line);
      return true;
    };
  process.stdout.write = capture('info') as typeof process.stdout.write;
  process.stderr.write = capture('error') as typeof process.stderr.write;
}

// Sockets arrive from the master while the app is still loading.
const handles: unknown[] = [];
const labels: string[] = [];
let expected = -1;
let socketsArrived: () => void = () => {};
const allSockets = new Promise<void>((resolve) => (socketsArrived = resolve));
const answerMetrics = appMetricsResponder(process.cwd());
process.on('message', (msg: MasterToWorker, handle: unknown) => {
  if (msg?.type === METRICS_REQUEST) return answerMetrics(msg.requestId);
  if (msg?.type === 'adopt') adopt(msg.slot, msg.index, handle as NativeHandle);
  else if (msg?.type === 'release') release(msg.slot);
  else if (msg?.type === 'sticky-connection') takeConnection(handle, msg.head);
  if (msg?.type !== 'socket') return;
  handles[msg.index] = handle;
  labels[msg.index] = msg.label;
  expected = msg.total;
  if (handles.filter(Boolean).length === expected) socketsArrived();
});
send({ type: 'want-sockets' });

const info = { pid: process.pid, id: Number(process.env.NODE_UNIQUE_ID ?? 0), generation: spec.generation };
let hooks: HookRunner | null = null;
/** The hooks, only when preRequest or postRequest is set: one null check per request otherwise. */
let requestHooks: HookRunner | null = null;
let binds: Bind[] = [];
let requests = 0;
let drainer: Drainer | null = null;
let booted = false;
/** The one server this worker serves on all binds, and the promise of it listening. */
let served: net.Server | null = null;
let serving: Promise<void> | null = null;
let onServing: () => void = () => {};
const listenCalled = new Promise<void>((resolve) => (onServing = resolve));
let closeApp: (() => unknown) | null = null;
// counts for the master's statsBind /metrics, sent as deltas in heartbeats (no prom-client here)
const requestMetrics = spec.stats ? new RequestMetrics() : null;
const keepAliveMs = settings.keepAlive * 1000;
const filterForwarded = forwardedFilter(settings.forwardedAllowIps);

/** What tsgund does for every request, before the app sees it. */
function onRequest(d: Drainer, req: http.IncomingMessage, res: http.ServerResponse): void {
  requests++;
  d.onRequest(res);
  if (requestMetrics) {
    const t0 = performance.now();
    res.once('close', () =>
      requestMetrics.observe(res.writableFinished ? res.statusCode : CLIENT_CLOSED, (performance.now() - t0) / 1000),
    );
  }
  if (keepAliveMs === 0) res.shouldKeepAlive = false;
  accessLog?.track(req, res);
  if (requestHooks) {
    if (requestHooks.has('preRequest')) void requestHooks.call('preRequest', info, req);
    if (requestHooks.has('postRequest'))
      res.once('close', () => void requestHooks?.call('postRequest', info, req, res));
  }
  if (spec.maxRequests > 0 && requests === spec.maxRequests) retire(`max requests (${spec.maxRequests}) reached`);
}

/**
 * Serve `server` on every bind. With a `listener`, tsgund created the server
 * and calls the app itself; otherwise the server is the app's own (exported,
 * or listened by the app) and tsgund's work runs before the app's handlers.
 */
function serveServer(server: net.Server, listener: RequestListener | null): Promise<void> {
  if (served === server) return serving!;
  if (served) {
    return Promise.reject(
      new AppLoadError('the app listened a second server; tsgund serves one server per worker, on all of its binds'),
    );
  }
  served = server;
  if (filterForwarded) filterRequests(server, filterForwarded);
  checkTimeoutsOften(server);
  // with sticky placement the master accepts: nothing here listens on the binds
  const accepting = spec.sticky ? [] : acceptorsFor(server, binds, settings.workerConnections);
  const d = new Drainer([server], accepting);
  drainer = d;
  if (listener) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      onRequest(d, req, res);
      if (refuseOverLimits(settings, req, res)) return;
      try {
        const result = listener(req, res);
        if (result instanceof Promise) result.catch((err: unknown) => failRequest(res, err));
      } catch (err) {
        failRequest(res, err);
      }
    });
  } else server.prependListener('request', (req, res) => onRequest(d, req, res));
  if (spec.sticky) serveFromMaster(server, stickyAddress);
  serving = spec.sticky ? Promise.resolve() : listenAll(accepting, binds, settings.backlog);
  onServing();
  return serving;
}

/** With sticky placement: the first bind's address, which the served server reports as its own. */
let stickyAddress: net.AddressInfo | null = null;

/** Other slots' sockets this worker accepts on as a guest (reusePort), by `slot:bind index`. */
const guests = new Map<string, net.Server>();

/**
 * With reusePort: accept on another slot's socket too, until released (that
 * slot has no ready worker of its own). Its connections go to the served
 * server, as those of a second bind do.
 */
function adopt(slot: number, index: number, handle: NativeHandle): void {
  const key = `${slot}:${index}`;
  const server = served;
  if (!booted || !server || !drainer || drainer.isDraining || guests.has(key)) {
    handle.close(); // only this process's descriptor: the master keeps the socket
    return;
  }
  const acceptor = net.createServer(
    { allowHalfOpen: (server as { allowHalfOpen?: boolean }).allowHalfOpen, noDelay: true },
    (socket) => server.emit('connection', socket),
  );
  acceptor.maxConnections = settings.workerConnections;
  drainer.addAcceptor(acceptor);
  guests.set(key, acceptor);
  listenOnHandle(acceptor, handle, settings.backlog).catch((err: unknown) => {
    log.error(`cannot accept on slot ${slot} as a guest`, err);
    guests.delete(key);
  });
}

function release(slot: number): void {
  for (const [key, acceptor] of guests) {
    if (!key.startsWith(`${slot}:`)) continue;
    guests.delete(key);
    // closes this process's descriptor only; the socket stays open and listening in the master
    stopAccepting(acceptor);
  }
}

/**
 * Sticky placement: a connection the master accepted and chose this worker
 * for. It goes to the served server, as an acceptor's connections do, and the
 * drain counts it like any other.
 */
function takeConnection(handle: unknown, head: unknown): void {
  // a connection the master read from comes as its bare TCP handle (see lib/master/sticky.ts)
  const socket =
    handle instanceof net.Socket
      ? handle
      : (handle as object | null)?.constructor?.name === 'TCP'
        ? new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts)
        : null;
  if (!socket) return;
  if (!booted || !served || (head !== undefined && typeof head !== 'string')) {
    socket.destroy();
    return;
  }
  // what the master read of it (a trusted proxy's request head) comes first, as if just received
  if (head) socket.unshift(Buffer.from(head, 'base64'));
  served.emit('connection', socket);
}

/** The app called listen() on a server of its own: serve it from the binds, or refuse. */
function onAppListen(server: net.Server, target: ListenTarget, cb: (() => void) | undefined): void {
  // a server already served (a Fastify app's own listen(), say) is fine on any port
  const refused = server === served ? null : refuseListen(target, binds);
  const result = refused ? Promise.reject(new AppLoadError(refused)) : serveServer(server, null);
  result.then(
    () => cb && process.nextTick(cb),
    (err: unknown) => {
      // at boot this is the app failing to start; later it is the server's own listen error
      if (booted) server.emit('error', err);
      else bootFailed(err);
    },
  );
}

/** A module that exports nothing to serve may still call listen(), after connecting to a database, say. */
async function awaitListen(app: string, exported: unknown): Promise<void> {
  const absent =
    exported === undefined ||
    (exported !== null && Object.getPrototypeOf(exported) === Object.prototype && !Object.keys(exported).length);
  if (!absent) throw new AppLoadError(`app '${app}' is ${describeValue(exported)}, expected ${AS_ALLOWED}`);
  await beforeBootTimeout(
    listenCalled,
    `app '${app}' exports no handler and did not call listen() within the boot timeout (${settings.bootTimeout} s); export ${AS_ALLOWED}`,
  );
}

/**
 * `promise`, or an AppLoadError with `message` shortly before the master's boot
 * timeout (which runs from the fork) would end this worker without a reason.
 */
async function beforeBootTimeout<T>(promise: Promise<T>, message: string): Promise<T> {
  const waitMs = Math.max(100, (settings.bootTimeout - process.uptime()) * 1000 - 500);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppLoadError(message)), waitMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function failRequest(res: http.ServerResponse, err: unknown): void {
  log.error('error handling request', err);
  if (res.headersSent) res.destroy();
  else {
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain');
    res.end('Internal Server Error\n');
  }
}

function exitNow(code: number): void {
  // flush the logs, but never let a stuck write keep the process around
  setTimeout(() => process.exit(code), 500).unref();
  void Promise.all([log.close(), accessLog?.close()]).finally(() => process.exit(code));
}

/**
 * Graceful stop: stop accepting, tell the app (process event 'tsgund:drain')
 * so it can close WebSockets and streams, wait for every connection to end,
 * close the app, run workerExit, then exit.
 */
function drainAndExit(): void {
  const d = drainer;
  d?.start(() => void afterDrain());
  (process as NodeJS.EventEmitter).emit('tsgund:drain');
  if (!d) void afterDrain();
}

async function afterDrain(): Promise<void> {
  if (closeApp) {
    try {
      await closeApp();
    } catch (err) {
      log.error('closing the app failed', err);
    }
  }
  await hooks?.call('workerExit', info);
  sendLastStats(() => exitNow(0));
}

/** A graceful exit first sends the requests counted since the last heartbeat, so none is lost. */
function sendLastStats(then: () => void): void {
  // a turn later, so that responses closed along with the last connection are counted
  setImmediate(() => {
    const stats = requestMetrics?.takeDelta();
    if (!stats || !process.connected) return then();
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      then();
    };
    setTimeout(once, 500);
    toMaster(
      {
        type: 'heartbeat',
        requests,
        accepted: drainer?.accepted ?? 0,
        rss: process.memoryUsage.rss(),
        stats,
      } satisfies WorkerToMaster,
      undefined,
      {},
      once,
    );
  });
}

function retire(reason: string): void {
  if (drainer?.isDraining) return;
  log.info(`worker retiring: ${reason}`);
  send({ type: 'retiring', reason });
  drainAndExit();
}

/** Load the app and serve what it exports on the binds, or the server it listened itself. */
async function serveApp(): Promise<void> {
  const app = await beforeBootTimeout(
    loadApp(settings.app!, process.cwd(), { withStack: settings.loglevel === 'debug' }),
    `app '${settings.app}' did not finish loading within the boot timeout (${settings.bootTimeout} s)\n` +
      'hint: its top-level code or the factory it exports waits on something that never settles (a connection, a promise never resolved); make it resolve or fail, or raise bootTimeout',
  );
  closeApp = app.close;
  if (app.kind === 'server') await serveServer(app.server, null);
  else if (served) log.debug('the app called listen() itself; its export is not served a second time');
  else if (app.kind === 'listener') {
    const tls = settings.certfile
      ? { cert: readFileSync(settings.certfile), key: readFileSync(settings.keyfile!) }
      : null;
    await serveServer(await createServer(settings, tls), app.listener);
  } else await awaitListen(settings.app!, app.exported);
  await serving;
}

/** TERM drains; INT and QUIT run workerInt and workerExit, then exit; ABRT runs workerAbort, then exits. */
function installStopSignals(h: HookRunner): void {
  process.on('SIGTERM', () => {
    log.info('worker received TERM, finishing in-flight requests');
    drainAndExit();
  });
  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    // gunicorn's worker_int: called on INT or QUIT, just before the quick exit
    process.on(
      sig,
      () =>
        void h
          .call('workerInt', info)
          .then(() => h.call('workerExit', info))
          .finally(() => exitNow(0)),
    );
  }
  if (h.has('workerAbort')) {
    process.on('SIGABRT', () => {
      // SIGABRT means the heartbeat was missed: the hook gets this turn only, as in gunicorn
      void h.call('workerAbort', info);
      exitNow(1);
    });
  }
}

async function boot(): Promise<void> {
  if (settings.accesslog && logFds.accesslog !== null) {
    const { createAccessLog } = await import('../log/access-log.js');
    accessLog = createAccessLog(
      {
        accesslog: settings.accesslog,
        accessLogFormat: settings.accessLogFormat,
        accessLogBuffered: settings.accessLogBuffered,
      },
      logFds.accesslog,
    );
  }
  const h = await loadWorkerHooks(spec.configPath, settings, log);
  hooks = h;
  if (h.has('preRequest') || h.has('postRequest')) requestHooks = h;
  installStopSignals(h);

  await allSockets;
  binds = handles.map((handle, i) => describeBind(labels[i]!, handle));
  // with sticky placement this worker never listens: its copies of the sockets would only keep them open
  if (spec.sticky) {
    stickyAddress = socketAddress(handles[0]);
    for (const handle of handles) (handle as NativeHandle).close();
  }
  const port = appPort(binds);
  if (port !== null) process.env.PORT = String(port);
  // before any app code runs: an app's own listen() is served from the binds
  interceptListen(onAppListen);
  await serveApp();
  // PM2's wait_ready: served, but ready only once the app says so
  if (settings.waitReady) await awaitAppReady(appSaidReady, settings.app!, settings.bootTimeout);
  await h.call('postWorkerInit', info);

  const heartbeat = setInterval(
    () =>
      send({
        type: 'heartbeat',
        requests,
        accepted: drainer?.accepted ?? 0,
        rss: process.memoryUsage.rss(),
        stats: requestMetrics?.takeDelta() ?? undefined,
      }),
    spec.heartbeatMs,
  );
  heartbeat.unref();
  booted = true;
  send({ type: 'ready' });
}

let failed = false;
function bootFailed(err: unknown): void {
  if (failed) return;
  failed = true;
  const exitCode = err instanceof UserError ? err.exitCode : EXIT.boot;
  const message = err instanceof UserError ? err.message : `worker failed to boot: ${oneLine(err)}`;
  send({ type: 'boot-error', exitCode, message });
  exitNow(exitCode);
}

boot().catch(bootFailed);
