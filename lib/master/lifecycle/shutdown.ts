import type { HookRunner } from '../../config/hooks.js';
import { unlinkUnixSocket, type Listener } from '../../listeners/handles.js';
import type { MasterLogs } from '../logs/master-logs.js';
import type { SlotPlacement } from '../placement/slot-placement.js';
import type { Pool } from '../pool/pool.js';
import type { MasterServices } from '../services/master-services.js';
import type { StickyPlacement } from '../placement/sticky-placement.js';
import type { Descendants } from '../process/descendants.js';
import type { Upgrade } from '../process/upgrade.js';
import type { Ticker } from '../ticker.js';
import { QUICK_STOP_MS } from '../pool/worker-handle.js';

/** What the master closes when it stops. Getters where the answer may change while the workers drain. */
export interface Teardown {
  logs: MasterLogs;
  pool: Pool;
  services: MasterServices;
  upgrade: Upgrade;
  placement: SlotPlacement;
  sticky: StickyPlacement | null;
  ticker: Ticker;
  descendants: Descendants | null;
  /** Every socket of the serving and the booting generation. */
  listeners: () => Listener[];
  hooks: () => HookRunner;
  name: () => string;
}

/**
 * The rest of a stop once the workers were told (TERM or QUIT): close the
 * sockets, wait for the workers, run onExit, then close everything else and
 * the logs last.
 */
export async function shutDown(t: Teardown, mode: 'graceful' | 'quick'): Promise<void> {
  t.sticky?.close();
  t.placement.closeAll(t.listeners(), t.upgrade.otherMasterAlive());
  // every worker is SIGKILLed by its handle when its grace runs out: this bound is a safety net
  const grace = Math.max(0, ...t.pool.list().map((h) => h.gen.settings.gracefulTimeout * 1000));
  await t.pool.drained((mode === 'quick' ? QUICK_STOP_MS : grace) + 1000);
  // before the tick stops: the reaper takes the zombies meanwhile
  await t.descendants?.stop(mode === 'quick' ? QUICK_STOP_MS : grace);
  await t.hooks().call('onExit');
  finalCleanup(t);
  t.logs.log.info(`Shutting down: ${t.name()} master (${process.pid})`);
  await t.logs.close();
}

/** Stop the tick, the pool and the services, and remove the unix socket paths. */
export function finalCleanup(t: Teardown): void {
  t.ticker.stop();
  t.pool.close();
  t.services.close();
  // a unix socket path stays while another master (old or new) still serves on it
  if (!t.upgrade.otherMasterAlive()) for (const l of t.listeners()) unlinkUnixSocket(l);
}
