// The pool wired to the master: what the master does with each kind of
// message a worker sends (node:cluster's methodMessageMapping), behind the
// intake that checks every message first (message-intake.ts), so each handler
// gets a valid message from a known worker; and what it does when the pool
// forks a worker or sees one exit.

import type { ErrorLog } from '../../log/error-line.js';
import type { CheckedMessage } from '../../protocol/worker-message-schemas.js';
import type { Clock } from '../../clock.js';
import { clusterFork } from './fork.js';
import type { SlotPlacement } from '../placement/slot-placement.js';
import type { MasterLogs } from '../logs/master-logs.js';
import type { MasterStats } from '../services/master-stats.js';
import { MessageIntake } from '../intake/message-intake.js';
import { Relay, type RelayPeer } from '../intake/relay.js';
import { CHANNELS } from '../../protocol/channel.js';
import type { Readable } from 'node:stream';
import { HANG_REPORT_FD } from '../../protocol/descriptors.js';
import { HangReports, readHangPipe } from '../intake/hang-reports.js';
import type { Generation } from '../lifecycle/generation.js';
import { type Fork, type ForkedProcess, Pool, type Targets, type Worker } from './pool.js';
import { listenerUrl } from '../../listeners/listener-url.js';

type MessageHandlers = {
  [T in CheckedMessage['type']]: (h: Worker, msg: Extract<CheckedMessage, { type: T }>) => void;
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
  logs: MasterLogs;
  targets(): Targets;
  stopping(): boolean;
  sticky(): boolean;
  /** A worker exited: re-place the reusePort guests and its sticky connections. */
  exited(h: Worker): void;
}

function messageHandlers(ctx: WorkerEventContext, hangs: HangReports): MessageHandlers {
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
    hang: (h, msg) => hangs.record(h, msg),
    // prom-client's cluster protocol, answered by the app: checked in depth by the collector
    'prom-client:getMetricsRes': (h, msg) => ctx.stats()?.onAnswer(h, msg),
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
      intake.attach(h);
      readHangPipe(h.worker.process.stdio?.at(HANG_REPORT_FD) as Readable | null | undefined, (raw) =>
        intake.receiveBeside(h, raw),
      );
      log().info(`Booting worker with pid: ${h.pid} (generation ${h.generation})`);
      void h.gen.hooks.call('postFork', { pid: h.pid, id: h.id, generation: h.generation });
    },
    exited: (h, _kind, code, signal) => {
      stats()?.exited(h);
      relay.forget(h.pid);
      ctx.exited(h);
      void h.gen.hooks.call('childExit', { pid: h.pid, id: h.id, generation: h.generation, code, signal });
    },
  });
  const relay = new Relay(() => relayPeers(pool), RELAY_QUEUE_BYTES);
  const hangs = new HangReports(log);
  const intake = workerIntake({ ...ctx, pool: () => pool }, relay, hangs, ctx.clock);
  pool.ignored = intake.ignored;
  pool.hangs = hangs.recent;
  return pool;
}

/** What the master holds for one worker of messages relayed to it, before it stops reading their senders. */
const RELAY_QUEUE_BYTES = 4 * CHANNELS.relay.budget.maxMessageBytes;

/** The workers a relayed message may go to: every one with a connected channel that is not stopping. */
function relayPeers(pool: Pool): RelayPeer[] {
  return pool
    .list()
    .filter((h) => h.state !== 'stopping' && h.worker.process.connected)
    .map((h) => ({ pid: h.pid, send: (msg, done) => sendRelayed(h, msg, done) }));
}

function sendRelayed(h: Worker, msg: unknown, done: () => void): void {
  try {
    h.worker.send(msg as object, undefined, {}, () => done());
  } catch {
    done(); // its channel just closed
  }
}

/** The intake of every worker's messages, delivering to the handlers above. */
function workerIntake(ctx: WorkerEventContext, relay: Relay, hangs: HangReports, clock: Clock): MessageIntake {
  const handlers = messageHandlers(ctx, hangs);
  return new MessageIntake(
    {
      log: ctx.log,
      counted: (reason) => ctx.stats()?.metrics.ignoredMessage(reason),
      deliver: (h, msg) => {
        h.onMessage(msg);
        (handlers[msg.type] as (h: Worker, msg: CheckedMessage) => void)(h as Worker, msg);
      },
      relay: (h, msg, bytes) => relay.pass({ pid: h.pid, send: () => {} }, msg, bytes),
      // a worker that corrupts its channel is stopped as a hung one is: SIGABRT, then SIGKILL
      stop: (h, why) => {
        ctx.log().error(`Worker ${h.pid} ${why}: stopping it`);
        h.abort();
      },
    },
    clock,
  );
}
