// The one place a worker process is created: node:cluster's fork with the
// generation's settings, identity, environment and log files. The pool gets
// this function injected (tests give it a fake one).

import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { WORKER_HOOKS } from '../../config/hook-table.js';
import { workerExecArgv } from '../../config/worker-node-options.js';
import { RESOURCE_ENV, workerResourceEnv } from '../../protocol/otel-resource.js';
import { WORKER_ENV, type WorkerSpec } from '../../protocol/messages.js';
import type { Generation } from '../lifecycle/generation.js';
import type { SlotPlacement } from '../placement/slot-placement.js';
import type { MasterLogs } from '../logs/master-logs.js';
import { workerFork, workerIdentity } from '../process/privileges.js';
import { withHangPipe } from '../intake/hang-reports.js';

/** Fork a worker of `gen` for `slot`; null when the master began stopping meanwhile; throws when the fork fails. */
export type ForkWorker = (gen: Generation, slot: number) => Promise<Worker | null>;

export interface ForkContext {
  cwd: string;
  /** The log files a worker inherits, its error-log pipe and its handover socket. */
  logs: MasterLogs;
  placement(): SlotPlacement;
  /** The master serves statsBind: workers count requests. */
  stats(): boolean;
  /** The master accepts and hands connections over (sticky placement). */
  sticky(): boolean;
  stopping(): boolean;
}

export const WORKER_MAIN = fileURLToPath(new URL('../../worker/main.js', import.meta.url));
const WORKER_PRELOAD = new URL('../../worker/preload.js', import.meta.url).href;

/** The workers' exec arguments: the master's, then workerNodeOptions after tsgund's preload. */
function execArgvOf(settings: Generation['settings']): string[] {
  const options = workerExecArgv(settings.workerNodeOptions);
  return options.length ? [...process.execArgv, `--import=${WORKER_PRELOAD}`, ...options] : process.execArgv;
}

/** An idle worker's heartbeat comes at least this often, for the freshness of `status` and memory checks. */
const IDLE_BEAT_MAX_MS = 15_000;

/**
 * A worker checks in every second (sooner with a short timeout), and sends a
 * heartbeat when it served since the last one, so counts and runtime health
 * stay fresh under load. An idle worker sends one only so often that a beat
 * and a check-in fit in half the timeout (15 s at most): a whole missed beat
 * is still within the timeout, and 128 idle workers cost the master a beat
 * every 110 ms rather than 128 a second. The first request after a quiet
 * check-in beats at once (runtime.ts), so a worker that wakes up and blocks
 * gets the whole timeout.
 */
export function heartbeatTiming(timeoutS: number): { heartbeatMs: number; idleHeartbeatMs: number } {
  const heartbeatMs = Math.max(100, Math.min(1000, (timeoutS * 1000) / 4 || 1000));
  const idle = timeoutS > 0 ? (timeoutS * 1000) / 2 - heartbeatMs : IDLE_BEAT_MAX_MS;
  return { heartbeatMs, idleHeartbeatMs: Math.max(heartbeatMs, Math.min(IDLE_BEAT_MAX_MS, idle)) };
}

/** Parse rawEnv KEY=VALUE pairs into an object. */
const envOf = (pairs: string[]): Record<string, string> =>
  Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));

function workerSpec(gen: Generation, ctx: ForkContext): WorkerSpec {
  const { settings } = gen;
  const jitter = settings.maxRequestsJitter ? Math.floor(Math.random() * (settings.maxRequestsJitter + 1)) : 0;
  return {
    settings,
    // a worker reads the config file only for hooks it runs itself
    configPath: WORKER_HOOKS.some((name) => gen.hooks.has(name)) ? gen.configPath : null,
    generation: gen.number,
    maxRequests: settings.maxRequests ? settings.maxRequests + jitter : 0,
    ...heartbeatTiming(settings.timeout),
    stats: ctx.stats(),
    sticky: ctx.sticky(),
    hangReports: settings.stackOnTimeout,
    ...(gen.listeners.length ? {} : { noBinds: true }),
    logFds: ctx.logs.workerFds(settings),
  };
}

/** The real fork: runs the generation's preFork hook, then node:cluster's fork. */
export function clusterFork(ctx: ForkContext): ForkWorker {
  return async (gen, slot) => {
    const spec = workerSpec(gen, ctx);
    await gen.hooks.call('preFork', { generation: gen.number });
    if (ctx.stopping()) return null; // a stop came while the hook ran
    const { settings } = gen;
    ctx.placement().ensure(gen.listeners, slot + 1);
    // PM2's instance number is the slot: a replacement takes the number of the worker it replaces
    const rawEnv = envOf(settings.rawEnv);
    const otel = workerResourceEnv(rawEnv[RESOURCE_ENV] ?? process.env[RESOURCE_ENV], settings.name, slot, gen.number);
    const fork = workerFork(workerIdentity(settings), { ...rawEnv, ...otel, NODE_APP_INSTANCE: String(slot) });
    cluster.setupPrimary({
      execArgv: execArgvOf(settings),
      cwd: settings.chdir ?? ctx.cwd,
      ...fork.ids,
      stdio: settings.stackOnTimeout ? withHangPipe(ctx.logs.stdioFor(settings)) : ctx.logs.stdioFor(settings),
    });
    const worker = cluster.fork({ ...fork.env, [WORKER_ENV]: JSON.stringify(spec) });
    worker.on('error', () => {}); // a send to a worker that just died; its exit is handled
    if (worker.process.pid !== undefined) {
      ctx.logs.attach(worker.process.pid, worker.process.stdio, settings);
      return worker;
    }
    // The spawn failed (EAGAIN under RLIMIT_NPROC, ENOMEM): Node reports it
    // with an 'error' event on the next tick, and no 'exit' ever follows.
    const failed = new Promise<unknown>((resolve) => worker.process.once('error', resolve));
    delete cluster.workers?.[worker.id];
    if (worker.process.connected) worker.process.disconnect();
    throw await failed;
  };
}
