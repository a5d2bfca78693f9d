// The pool wired to the master: what the master does with each kind of
// message a worker sends (node:cluster's methodMessageMapping), behind the
// intake that checks every message first (message-intake.ts), so each handler
// gets a valid message from a known worker; and what it does when the pool
// forks a worker or sees one exit.

import type { ErrorLog } from '../../log/error-line.js';
import type { WorkerToMaster } from '../../protocol/messages.js';
import type { Clock } from '../../clock.js';
import { clusterFork } from './fork.js';
import type { SlotPlacement } from '../placement/slot-placement.js';
import type { MasterLogFiles } from '../logs/master-log-files.js';
import type { MasterStats } from '../services/master-stats.js';
import { MessageIntake } from '../intake/message-intake.js';
import type { Generation } from '../lifecycle/generation.js';
import { type Fork, type ForkedProcess, Pool, type Targets, type Worker } from './pool.js';
import { listenerUrl } from '../../listeners/listener-url.js';

type MessageHandlers = {
  [T in WorkerToMaster['type']]: (h: Worker, msg: Extract<WorkerToMaster, { type: T }>) => void;
};

export interface WorkerEventContext {
  log(): ErrorLog;
  pool(): Pool;
  placement(): SlotPlacement;
  stats(): MasterStats | null;
  /** A worker said its app serves its own TLS server: its generation's listeners are https:// URLs. */
  appServesTls(gen: Generation): void;
  /** A worker became ready: re-place the reusePort guests, hand queued sticky connections over. */
  ready(): void;
}

export interface PoolWiring extends Omit<WorkerEventContext, 'pool'> {
  /** Forks a worker; null: node:cluster's (fork.ts). */
  fork: Fork<ForkedProcess> | null;
  /** The monotonic clock the pool, its handles and the intake keep time with. */
  clock: Clock;
  cwd: string;
  logFiles: MasterLogFiles;
  targets(): Targets;
  stopping(): boolean;
  sticky(): boolean;
  piped(): boolean;
  /** A worker was forked: read its error-log pipe. */
  forked(h: Worker): void;
  /** A worker exited: re-place the reusePort guests and its sticky connections. */
  exited(h: Worker): void;
}

function messageHandlers(ctx: WorkerEventContext): MessageHandlers {
  return {
    'want-sockets': (h) => ctx.placement().sendSockets(h, h.gen.listeners),
    ready: (h, msg) => {
      if (msg.tls && !h.gen.appTls) {
        ctx.appServesTls(h.gen);
        for (const l of h.gen.listeners) ctx.log().info(`Serving the app's own TLS server at: ${listenerUrl(l, true)}`);
      }
      h.gen.boot?.onReady();
      ctx.ready();
    },
    // a report of several lines (the app's source line and a caret under it): one log line each
    'boot-error': (h, msg) => {
      const [first, ...rest] = msg.message.split('\n');
      ctx.log().error(`Worker ${h.pid} failed to boot: ${first}`);
      for (const line of rest) ctx.log().error(line);
    },
    heartbeat: (h, msg) => {
      if (msg.stats) ctx.stats()?.metrics.addDelta(msg.stats);
      ctx.pool().checkMemory(h, msg.rss);
    },
    retiring: (h, msg) => ctx.pool().retiring(h, msg.reason, msg.signal),
    // prom-client's cluster protocol, answered by the app: checked in depth by the collector
    'prom-client:getMetricsRes': (h, msg) => ctx.stats()?.app.onAnswer(h.pid, msg),
  };
}

/** The pool of the master (forking with node:cluster unless told otherwise), and its workers' message intake. */
export function wirePool(ctx: PoolWiring): Pool {
  const { log, stats, stopping } = ctx;
  const fork = ctx.fork ?? clusterFork({ ...ctx, stats: () => stats() !== null });
  const pool: Pool = new Pool(fork, ctx.clock, {
    log,
    targets: ctx.targets,
    stopping,
    restart: (cause) => stats()?.metrics.restart(cause),
    forked: (h) => {
      ctx.forked(h);
      intake.attach(h);
      log().info(`Booting worker with pid: ${h.pid} (generation ${h.generation})`);
      void h.gen.hooks.call('postFork', { pid: h.pid, id: h.id, generation: h.generation });
    },
    exited: (h, _kind, code, signal) => {
      stats()?.app.forget(h.pid);
      ctx.exited(h);
      void h.gen.hooks.call('childExit', { pid: h.pid, id: h.id, generation: h.generation, code, signal });
    },
  });
  const intake = workerIntake({ ...ctx, pool: () => pool }, ctx.clock);
  pool.ignored = intake.ignored;
  return pool;
}

/** The intake of every worker's messages, delivering to the handlers above. */
function workerIntake(ctx: WorkerEventContext, clock: Clock): MessageIntake {
  const handlers = messageHandlers(ctx);
  return new MessageIntake(
    {
      log: ctx.log,
      counted: (reason) => ctx.stats()?.metrics.ignoredMessage(reason),
      deliver: (h, msg) => {
        h.onMessage(msg);
        (handlers[msg.type] as (h: Worker, msg: WorkerToMaster) => void)(h as Worker, msg);
      },
      // a worker that floods the master or corrupts its channel is stopped as a hung one is: SIGABRT, then SIGKILL
      stop: (h, why) => {
        ctx.log().error(`Worker ${h.pid} ${why}: stopping it`);
        h.abort();
      },
    },
    clock,
  );
}
