// What the master does with each kind of message a worker sends (node:cluster's
// methodMessageMapping), behind the intake that checks every message first
// (message-intake.ts): each handler gets a valid message from a known worker.

import type { ErrorLog } from '../log/error-line.js';
import type { WorkerToMaster } from '../worker/messages.js';
import type { SlotPlacement } from './guests.js';
import type { MasterStats } from './master-stats.js';
import { MessageIntake } from './message-intake.js';
import type { Pool, Worker } from './pool.js';

type MessageHandlers = {
  [T in WorkerToMaster['type']]: (h: Worker, msg: Extract<WorkerToMaster, { type: T }>) => void;
};

export interface WorkerEventContext {
  log(): ErrorLog;
  pool(): Pool;
  placement(): SlotPlacement;
  stats(): MasterStats | null;
  /** A worker became ready: re-place the reusePort guests. */
  ready(): void;
}

function messageHandlers(ctx: WorkerEventContext): MessageHandlers {
  return {
    'want-sockets': (h) => ctx.placement().sendSockets(h, h.gen.listeners),
    ready: (h) => {
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
    retiring: (h, msg) => ctx.pool().retiring(h, msg.reason),
    // prom-client's cluster protocol, answered by the app: checked in depth by the collector
    'prom-client:getMetricsRes': (h, msg) => ctx.stats()?.app.onAnswer(h.pid, msg),
  };
}

/** The intake of every worker's messages, delivering to the handlers above. */
export function workerIntake(ctx: WorkerEventContext): MessageIntake {
  const handlers = messageHandlers(ctx);
  return new MessageIntake({
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
  });
}
