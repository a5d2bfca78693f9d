// What `tsgund status` and the metrics endpoint read of the master: built
// from its state on demand, never kept.

import type { Settings } from '../config/types.js';
import { listenerUrl, protocolsOf } from '../listeners/listener-url.js';
import { logLocations, type StatusSnapshot, type WorkerStatus } from '../protocol/status.js';
import type { Generation } from './lifecycle/generation.js';
import type { Pool } from './pool/pool.js';
import type { WorkerHandle } from './pool/worker-handle.js';

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
});

export interface MasterView {
  name: string;
  settings: Settings;
  cwd: string;
  state: StatusSnapshot['state'];
  current: Generation | null;
  candidate: Generation | null;
  pool: Pool;
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

export function snapshot(m: MasterView): StatusSnapshot {
  const { settings } = m;
  return {
    name: m.name,
    pid: process.pid,
    app: settings.app ?? '',
    generation: m.current?.number ?? 0,
    targetWorkers: m.current?.target ?? m.candidate?.target ?? settings.workers,
    state: m.state,
    uptimeMs: Math.round(process.uptime() * 1000),
    rss: process.memoryUsage.rss(),
    restarts: m.pool.restarts,
    ignoredMessages: { ...m.pool.ignored },
    listeners: listenersOf(m.current ?? m.candidate, settings),
    generations: generations(m),
    workers: m.pool.list().map(workerStatus),
    logs: logLocations(settings, m.cwd),
  };
}
