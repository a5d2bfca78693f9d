import '../early-signals.js';
import './group-leader.js';
import './ignore-signals.js';
import { handleSignal } from '../early-signals.js';
import { checkWorkerInternals } from '../internals/node-internals.js';
import { applyInstanceId } from '../protocol/otel-resource.js';
import type { NativeHandle } from '../listeners/handles.js';
import { interceptAppReady } from './app-ready.js';
import { boot } from './boot.js';
import { WorkerLogs } from './worker-logs.js';
import { type MasterToWorker, WORKER_ENV, type WorkerSpec } from '../protocol/messages.js';
import { WorkerRuntime } from './runtime.js';
import { SocketArrival } from './sockets.js';
import { takeConnection } from './sticky-connection.js';
import { appSignalEmitter } from './kill-signal.js';
import { muteEsmLoadWarning } from './esm-load-warning.js';

// the app's own OpenTelemetry setup finds this worker's identity (a module of workerNodeOptions found it already)
applyInstanceId();
const spec = JSON.parse(process.env[WORKER_ENV] ?? 'null') as WorkerSpec;
const { settings, logFds } = spec;
// The master opened the log files (this process may not be allowed to) and passed their descriptors.
const logs = new WorkerLogs(settings, logFds);
const log = logs.error;
// before any app code: the app's process.send('ready') never reaches the master as a message
const { toMaster, said: appSaidReady } = interceptAppReady();
const rt = new WorkerRuntime(spec, logs, toMaster);
const sockets = new SocketArrival();

process.title = `${settings.name}: worker [${settings.app}]`;
// before any app code, so that none of its output escapes
logs.captureOutput();
muteEsmLoadWarning();
const appDir = process.cwd();

/** Features that only some configurations use are imported on their first message, in order. */
const guests = lazy(() => import('./guests.js').then(({ Guests }) => new Guests(log, settings)));
const appMetrics = lazy(() =>
  import('./app-metrics.js').then(({ appMetricsResponder }) => appMetricsResponder(appDir)),
);

// the app's counters must not lose what this worker counted: its last values go to the master as it drains
if (spec.stats)
  rt.reportAppMetrics = () =>
    appMetrics().then(() => import('./app-metrics.js').then(({ reportFinalMetrics }) => reportFinalMetrics()));

type MessageHandlers = {
  [T in MasterToWorker['type']]: (msg: Extract<MasterToWorker, { type: T }>, handle: unknown) => void;
};

/** One handler per kind of message the master sends (node:cluster's methodMessageMapping). */
const messageHandlers: MessageHandlers = {
  socket: (msg, handle) => sockets.receive(msg.index, msg.total, msg.label, handle),
  adopt: (msg, handle) =>
    void guests().then((g) => g.adopt(msg.slot, msg.index, handle as NativeHandle, rt.servingServer, rt.drainer)),
  release: (msg) => void guests().then((g) => g.release(msg.slot)),
  'sticky-connection': (msg, handle) => takeConnection(handle, msg.head, rt.servingServer),
  'prom-client:getMetricsReq': (msg) => void appMetrics().then((answer) => answer(msg.requestId)),
  'tls-context': (msg) => rt.tls.apply(msg),
};

type WorkerSignal = 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGABRT' | 'SIGUSR1';

/** One handler per signal a worker handles; `only` leaves a signal to Node's default unless it holds. */
const signalHandlers: Record<WorkerSignal, { run(): void; only?: () => boolean }> = {
  SIGTERM: { run: () => rt.terminated() },
  // gunicorn's worker_int: called on INT or QUIT, just before the quick exit
  SIGINT: { run: () => rt.quickExit() },
  SIGQUIT: { run: () => rt.quickExit() },
  // SIGABRT means the heartbeat was missed: the hook gets this turn only, as in gunicorn
  SIGABRT: {
    only: () => rt.features.hooks?.has('workerAbort') ?? false,
    run: () => {
      void rt.features.hooks?.call('workerAbort', rt.info);
      rt.exitNow(1);
    },
  },
  SIGUSR1: {
    run: () => {
      log.info('reopening log files');
      const failed = logs.reopen();
      // still on the old files, which logrotate may compress or delete: a replacement gets the fresh ones at fork
      if (failed) rt.retire(`cannot reopen log file: ${failed}`);
    },
  },
};

function installSignals(): void {
  for (const [sig, { run, only }] of Object.entries(signalHandlers))
    if (!only || only()) handleSignal(sig as NodeJS.Signals, run);
  const appSignal = appSignalEmitter(rt.settings.killSignal);
  (process as NodeJS.EventEmitter).on('tsgund:drain', appSignal);
  // a USR1 that came while the logs were being set up was ignored: take the files the master handed over for it
  logs.takeWaiting();
}

function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | null = null;
  return () => (loaded ??= load());
}

// The master owns this process: when it goes away (even SIGKILLed), leave at once.
process.on('disconnect', () => rt.exitNow(0));
process.on('message', (msg: MasterToWorker | null, handle: unknown) => {
  const type = msg?.type;
  if (typeof type !== 'string' || !Object.hasOwn(messageHandlers, type)) return;
  (messageHandlers[type] as (m: MasterToWorker, h: unknown) => void)(msg!, handle);
});
// a background app (nothing bound) gets no sockets
const arrived = spec.noBinds ? Promise.resolve({ handles: [], labels: [] }) : sockets.all;
if (!spec.noBinds) rt.send({ type: 'want-sockets' });
// before any app code: without an internal a guard needs, the worker does not boot (one line)
Promise.resolve()
  .then(checkWorkerInternals)
  .then(() => boot(rt, arrived, appSaidReady, installSignals))
  .catch((err: unknown) => rt.bootFailed(err));
