// What `tsgund status` and the metrics endpoint read of the master: built
// from its state on demand, never kept.

import type { Settings } from '../config/types.js';
import { listenerUrl, protocolsOf } from '../listeners/listener-url.js';
import { logLocations, type StatusSnapshot, type WorkerStatus } from '../protocol/status.js';
import { CHANNEL_PAUSES } from './intake/channel-gate.js';
import type { Generation } from './lifecycle/generation.js';
import type { Outcomes } from './lifecycle/outcomes.js';
import type { Pool } from './pool/pool.js';
import type { WorkerHandle } from './pool/worker-handle.js';
import { MasterLoop } from './master-loop.js';

/** A generation's listeners as URLs: https for tsgund's TLS servers and for an app's own, once a worker said so. */
function listenersOf(gen: Generation | null | undefined, settings: Settings): string[] {
  const tls = !!settings.certfile || gen?.appTls === true;
  return gen?.listeners.map((l) => listenerUrl(l, tls, protocolsOf(settings))) ?? [];
}

const workerStatus = (h: WorkerHandle): WorkerStatus => ({
  pid: h.pid,
  id: h.id,
  generation: h.generation,
  state: h.state,
  uptimeMs: h.uptimeMs,
  requests: h.requests,
  accepted: h.accepted,
  slot: h.slot,
  bootMs: h.bootMs,
  rss: h.rss,
  ...(h.runtime ? { runtime: h.runtime } : {}),
});

export interface MasterView {
  name: string;
  settings: Settings;
  cwd: string;
  /** The ecosystem file the app entry comes from, or null. */
  ecosystem: string | null;
  state: StatusSnapshot['state'];
  current: Generation | null;
  candidate: Generation | null;
  pool: Pool;
  /** Why the master cannot place new connections now, or null. */
  placementBlocked: string | null;
  outcomes: Outcomes;
}

/** The generations with workers, and the serving and booting ones, oldest first. */
function generations(m: MasterView): StatusSnapshot['generations'] {
  const all = new Set<Generation>(m.pool.list().map((h) => h.gen));
  for (const g of [m.current, m.candidate]) if (g) all.add(g);
  return [...all]
    .sort((a, b) => a.number - b.number)
    .map((g) =>
      g.status(g === m.current ? 'serving' : g === m.candidate ? 'booting' : 'draining', m.pool.of(g).length),
    );
}

const masterLoop = new MasterLoop();

export function snapshot(m: MasterView): StatusSnapshot {
  const { settings } = m;
  const loop = masterLoop.sample();
  return {
    name: m.name,
    pid: process.pid,
    app: settings.app ?? '',
    ...(m.ecosystem ? { ecosystem: m.ecosystem } : {}),
    generation: m.current?.number ?? 0,
    targetWorkers: m.current?.target ?? m.candidate?.target ?? settings.workers,
    state: m.state,
    uptimeMs: Math.round(process.uptime() * 1000),
    rss: process.memoryUsage.rss(),
    ...(loop ? { loop } : {}),
    restarts: m.pool.restarts,
    ignoredMessages: { ...m.pool.ignored },
    channelPauses: { ...CHANNEL_PAUSES },
    listeners: listenersOf(m.current ?? m.candidate, settings),
    ...(m.placementBlocked ? { placementBlocked: m.placementBlocked } : {}),
    generations: generations(m),
    workers: m.pool.list().map(workerStatus),
    hangs: [...m.pool.hangs],
    logs: logLocations(settings, m.cwd),
    operations: m.outcomes.status(),
  };
}
