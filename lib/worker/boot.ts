import type net from 'node:net';
import { AS_ALLOWED, AppLoadError, type LoadStage, type LoadedApp, describeValue, loadApp } from './app-loader.js';
import { unlessStalled } from './stall-watch.js';
import { awaitAppReady } from './app-ready.js';
import { appPort, describeBind, refuseListen } from './binds.js';
import { type ListenTarget, interceptListen } from './listen-hook.js';
import type { NativeHandle } from '../listeners/handles.js';
import type { Features, WorkerRuntime } from './runtime.js';
import { createServer, socketAddress } from './serve.js';
import type { Swappable } from './tls-context.js';
import type { Arrived } from './sockets.js';
import { alignToGrid } from '../grid.js';

// Built-ins without their ES module facade, which costs every worker's boot (see node-http.ts).
const { readFileSync } = process.getBuiltinModule('node:fs');

/**
 * The features a worker's settings use, each imported only then: the access
 * log (opened by its WorkerLogs), the config file's hooks (its loader costs
 * about 4 MiB), the request counters for statsBind. A worker imports what it
 * needs, no more.
 */
export async function loadFeatures(rt: WorkerRuntime): Promise<Features> {
  const { settings, spec } = rt;
  const accessLog = rt.logs.openAccess();
  const hooks = spec.configPath
    ? import('../config/hooks.js').then(({ loadWorkerHooks }) => loadWorkerHooks(spec.configPath!, settings, rt.log))
    : null;
  const metrics = spec.stats ? import('../protocol/request-metrics.js') : null;
  const m = await metrics;
  await accessLog;
  return {
    hooks: await hooks,
    requestMetrics: m ? new m.RequestMetrics() : null,
    clientClosed: m?.CLIENT_CLOSED ?? 0,
  };
}

/**
 * Boot: the sockets, the app served on them, the app's own readiness and
 * postWorkerInit; then heartbeats and 'ready'. `installSignals` runs once the
 * hooks the signal handlers call are loaded.
 */
export async function boot(
  rt: WorkerRuntime,
  sockets: Promise<Arrived>,
  appSaidReady: Promise<void>,
  installSignals: () => void,
): Promise<void> {
  rt.setFeatures(await loadFeatures(rt));
  installSignals();
  useSockets(rt, await sockets);
  // before any app code runs: an app's own listen() is served from the binds
  interceptListen((server, target, cb) => onAppListen(rt, server, target, cb));
  await serveApp(rt);
  const { settings } = rt;
  // PM2's wait_ready: served, but ready only once the app says so
  if (settings.waitReady) await awaitAppReady(appSaidReady, settings.app!, settings.bootTimeout);
  await rt.features.hooks?.call('postWorkerInit', rt.info);
  startCheckIns(rt);
  // a TERM during the boot (postWorkerInit, say) began a drain: this worker is never ready
  if (!rt.enter('serving')) return;
  // tsgund's own TLS server is known from certfile; an app's own is told
  const appTls = !settings.certfile && typeof (rt.served as { addContext?: unknown } | null)?.addContext === 'function';
  rt.send(appTls ? { type: 'ready', tls: true } : { type: 'ready' });
}

/**
 * The heartbeat timer, on a grid of the system's monotonic clock (which every
 * process shares): all workers check in at the same instants, so the master
 * reads their heartbeats in a few wake-ups rather than one each.
 */
function startCheckIns(rt: WorkerRuntime): void {
  const timer = setInterval(() => rt.checkIn(), rt.spec.heartbeatMs).unref();
  alignToGrid(timer, rt.spec.heartbeatMs);
}

function useSockets(rt: WorkerRuntime, { handles, labels }: Arrived): void {
  rt.binds = handles.map((handle, i) => describeBind(labels[i]!, handle));
  // with sticky placement this worker never listens: its copies of the sockets would only keep them open
  if (rt.spec.sticky) {
    rt.stickyAddress = socketAddress(handles[0]);
    for (const handle of handles) (handle as NativeHandle).close();
  }
  const port = appPort(rt.binds);
  if (port !== null) process.env.PORT = String(port);
}

/** The app called listen() on a server of its own: serve it from the binds, or refuse. */
function onAppListen(rt: WorkerRuntime, server: net.Server, target: ListenTarget, cb: (() => void) | undefined): void {
  // a server already served (a Fastify app's own listen(), say) is fine on any port
  const refused = server === rt.served ? null : refuseListen(target, rt.binds);
  const result = refused ? Promise.reject(new AppLoadError(refused)) : rt.serveServer(server, null);
  result.then(
    () => cb && process.nextTick(cb),
    (err: unknown) => {
      // at boot this is the app failing to start; later it is the server's own listen error
      if (rt.phase === 'booting') rt.bootFailed(err);
      else server.emit('error', err);
    },
  );
}

/** Load the app and serve what it exports on the binds, or the server it listened itself. */
async function serveApp(rt: WorkerRuntime): Promise<void> {
  const { settings } = rt;
  const stage = { now: 'import' as LoadStage };
  const loading = loadApp(settings.app!, process.cwd(), { withStack: settings.loglevel === 'debug', stage });
  const app = await beforeBootTimeout(
    rt,
    unlessStalled(loading, () => new AppLoadError(stalledMessage(settings.app!, stage.now))),
    `app '${settings.app}' did not finish loading within the boot timeout (${settings.bootTimeout} s)\n` +
      'hint: its top-level code or the factory it exports waits on something that never settles (a connection, a promise never resolved); make it resolve or fail, or raise bootTimeout',
  );
  rt.closeApp = app.close;
  if (!rt.binds.length) return runInBackground(rt, app);
  if (app.kind === 'server') await rt.serveServer(app.server, null);
  else if (rt.served) rt.log.debug('the app called listen() itself; its export is not served a second time');
  else if (app.kind === 'listener') {
    const tls = settings.certfile
      ? rt.tls.initial({ cert: readFileSync(settings.certfile), key: readFileSync(settings.keyfile!) })
      : null;
    const warn = (line: string) => rt.log.warning(line);
    const server = await createServer(settings, tls, app.listener, warn);
    // a renewed certificate replaces the context in place (see tls-context.ts)
    if (tls) rt.tls.serve(server as unknown as Swappable, tls);
    await rt.serveServer(server, app.listener);
  } else await awaitListen(rt, app.exported);
  await rt.serving;
}

/** An app whose loading can never finish: what awaits, and why nothing can settle it. */
const stalledMessage = (app: string, stage: LoadStage): string =>
  `app '${app}' cannot finish loading: ${stage === 'import' ? 'its top-level code awaits' : 'the factory it exports returned'} a promise that nothing left can settle (no timer, socket or request is pending)`;

/**
 * Nothing is bound: the app runs as a plain process (a queue consumer, say),
 * as PM2 runs a script, and is ready once it has loaded. Something to serve
 * is an error, as no request could ever reach it.
 */
function runInBackground(rt: WorkerRuntime, app: LoadedApp): void {
  if (app.kind === 'none') return;
  throw new AppLoadError(
    `app '${rt.settings.app}' exports ${app.kind === 'server' ? 'a server' : 'a request handler'}, but nothing is bound (bind is empty, as for an ecosystem entry without a port): give it a bind (-b, or port or env.PORT in its ecosystem entry)`,
  );
}

/** A module that exports nothing to serve may still call listen(), after connecting to a database, say. */
async function awaitListen(rt: WorkerRuntime, exported: unknown): Promise<void> {
  const app = rt.settings.app!;
  const absent =
    exported === undefined ||
    (exported !== null && Object.getPrototypeOf(exported) === Object.prototype && !Object.keys(exported).length);
  if (!absent) throw new AppLoadError(`app '${app}' is ${describeValue(exported)}, expected ${AS_ALLOWED}`);
  await beforeBootTimeout(
    rt,
    rt.listenCalled,
    `app '${app}' exports no handler and did not call listen() within the boot timeout (${rt.settings.bootTimeout} s); export ${AS_ALLOWED}`,
  );
}

/**
 * `promise`, or an AppLoadError with `message` shortly before the master's boot
 * timeout (which runs from the fork) would end this worker without a reason.
 */
async function beforeBootTimeout<T>(rt: WorkerRuntime, promise: Promise<T>, message: string): Promise<T> {
  const waitMs = Math.max(100, (rt.settings.bootTimeout - process.uptime()) * 1000 - 500);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    // unref'd: the channel to the master keeps the loop alive, except while unlessStalled listens for its end
    timer = setTimeout(() => reject(new AppLoadError(message)), waitMs).unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
