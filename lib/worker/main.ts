import '../early-signals.js';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { handleSignal } from '../early-signals.js';
import { EXIT, UserError, oneLine } from '../errors.js';
import { createAccessLog, type AccessLog } from '../log/access-log.js';
import { createErrorLog } from '../log/error-log.js';
import { listenOnHandle } from '../listeners/handles.js';
import { loadApp, type RequestListener } from './app-loader.js';
import { Drainer } from './drain.js';
import { forwardedFilter } from './forwarded.js';
import { loadWorkerHooks } from '../config/hooks.js';
import { WORKER_ENV, type MasterToWorker, type WorkerSpec, type WorkerToMaster } from './messages.js';
import { CLIENT_CLOSED, RequestMetrics } from '../stats/request-metrics.js';

const spec = JSON.parse(process.env[WORKER_ENV] ?? 'null') as WorkerSpec;
const { settings } = spec;
const log = createErrorLog(settings);
const accessLog: AccessLog | null = settings.accesslog
  ? createAccessLog({ accesslog: settings.accesslog, accessLogFormat: settings.accessLogFormat })
  : null;
const send = (msg: WorkerToMaster): void => {
  if (process.connected) process.send!(msg);
};

process.title = `${settings.name}: worker [${settings.app}]`;

// The master owns this process: when it goes away (even SIGKILLed), leave at once.
process.on('disconnect', () => exitNow(0));

handleSignal('SIGUSR1', () => {
  log.info('reopening log files');
  void Promise.all([log.reopen(), accessLog?.reopen()]);
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
let expected = -1;
let socketsArrived: () => void = () => {};
const allSockets = new Promise<void>((resolve) => (socketsArrived = resolve));
process.on('message', (msg: MasterToWorker, handle: unknown) => {
  if (msg?.type !== 'socket') return;
  handles[msg.index] = handle;
  expected = msg.total;
  if (handles.filter(Boolean).length === expected) socketsArrived();
});
send({ type: 'want-sockets' });

let requests = 0;
let drainer: Drainer | null = null;
// counts for the master's statsBind /metrics, sent as deltas in heartbeats (no prom-client here)
const requestMetrics = spec.stats ? new RequestMetrics() : null;

function serve(app: RequestListener, servers: http.Server[]): void {
  const d = new Drainer(servers);
  drainer = d;
  const keepAliveMs = settings.keepAlive * 1000;
  const filterForwarded = forwardedFilter(settings.forwardedAllowIps);
  for (const server of servers) {
    server.keepAliveTimeout = keepAliveMs;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      requests++;
      d.onRequest(res);
      if (requestMetrics) {
        const t0 = performance.now();
        res.once('close', () =>
          requestMetrics.observe(
            res.writableFinished ? res.statusCode : CLIENT_CLOSED,
            (performance.now() - t0) / 1000,
          ),
        );
      }
      filterForwarded?.(req.socket.remoteAddress, req.headers);
      if (keepAliveMs === 0) res.shouldKeepAlive = false;
      if (accessLog) {
        const start = process.hrtime.bigint();
        accessLog.track(res);
        res.once('finish', () => accessLog.log(req, res, start));
      }
      try {
        const result = app(req, res);
        if (result instanceof Promise) result.catch((err: unknown) => failRequest(res, err));
      } catch (err) {
        failRequest(res, err);
      }
      if (spec.maxRequests > 0 && requests === spec.maxRequests) retire(`max requests (${spec.maxRequests}) reached`);
    });
  }
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

function drainAndExit(): void {
  if (!drainer) {
    exitNow(0);
    return;
  }
  drainer.start(() => sendLastStats(() => exitNow(0)));
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
    process.send!(
      { type: 'heartbeat', requests, rss: process.memoryUsage.rss(), stats } satisfies WorkerToMaster,
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

async function boot(): Promise<void> {
  const hooks = await loadWorkerHooks(spec.configPath, settings, log);
  const info = { pid: process.pid, id: Number(process.env.NODE_UNIQUE_ID ?? 0), generation: spec.generation };
  process.on('SIGTERM', () => {
    log.info('worker received TERM, finishing in-flight requests');
    drainAndExit();
  });
  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    // gunicorn's worker_int: called on INT or QUIT, just before the quick exit
    process.on(sig, () => void hooks.call('workerInt', info).finally(() => exitNow(0)));
  }
  if (hooks.has('workerAbort')) {
    process.on('SIGABRT', () => {
      // SIGABRT means the heartbeat was missed: the hook gets this turn only, as in gunicorn
      void hooks.call('workerAbort', info);
      exitNow(1);
    });
  }

  const app = await loadApp(settings.app!, process.cwd());
  await allSockets;
  const tls = settings.certfile
    ? { cert: readFileSync(settings.certfile), key: readFileSync(settings.keyfile!) }
    : null;
  const servers = handles.map(() => (tls ? https.createServer(tls) : http.createServer()));
  serve(app, servers);
  await Promise.all(servers.map((server, i) => listenOnHandle(server, handles[i], settings.backlog)));
  await hooks.call('postWorkerInit', info);

  const heartbeat = setInterval(
    () =>
      send({
        type: 'heartbeat',
        requests,
        rss: process.memoryUsage.rss(),
        stats: requestMetrics?.takeDelta() ?? undefined,
      }),
    spec.heartbeatMs,
  );
  heartbeat.unref();
  send({ type: 'ready' });
}

boot().catch((err: unknown) => {
  const exitCode = err instanceof UserError ? err.exitCode : EXIT.boot;
  const message = err instanceof UserError ? err.message : `worker failed to boot: ${oneLine(err)}`;
  send({ type: 'boot-error', exitCode, message });
  exitNow(exitCode);
});
