// A reload (HUP): a candidate generation is built beside the serving one
// (the configuration read again from scratch, TTIN/TTOU changes dropped, its
// sockets bound) and booted. Only once it is ready does it become the serving
// generation and the old ones drain; if it fails, it is dropped with
// everything it created, and the serving generation never noticed.

import { HookRunner } from '../../config/hooks.js';
import { requireApp, resolveSettings, type CommandLine } from '../../config/resolve.js';
import type { Listener } from '../../listeners/handles.js';
import { bindAll } from '../../listeners/inherited.js';
import { oneLine } from '../../errors.js';
import type { ErrorLog } from '../../log/error-line.js';
import type { ErrorTransports } from '../logs/error-transports.js';
import { Generation } from './generation.js';
import type { SlotPlacement } from '../placement/slot-placement.js';
import { settleWithin } from './generation-boot.js';
import type { MasterLogFiles } from '../logs/master-log-files.js';
import type { MasterStats } from '../services/master-stats.js';
import type { Pool } from '../pool/pool.js';
import { unixSocketAccess, workerIdentity } from '../process/privileges.js';
import { describeProgress, RolloutFailure } from './rollout.js';
import { notifySystemd } from '../process/systemd-notify.js';

export interface ReloadContext {
  cli: CommandLine;
  envArgs: CommandLine | null;
  cwd: string;
  log: ErrorLog;
  logFiles: MasterLogFiles;
  pool: Pool;
  placement: SlotPlacement;
  /** The error log's transports: made afresh from the candidate's config (and kept if that fails). */
  transports: ErrorTransports;
  stats: MasterStats | null;
  url(l: Listener): string;
  /** Boot `gen` as the candidate: resolves once it serves, rejects (its workers draining) if it failed. */
  boot(gen: Generation): Promise<void>;
  /** Make sticky placement (when on) follow `gen`'s binds and settings; `candidate`: warn if it asks to change it. */
  followSticky(gen: Generation, candidate: boolean): Promise<void>;
}

/**
 * Reload from `serving`, telling systemd; returns whether a candidate took over.
 * A rollout that failed gives the serving generation back its full size; one
 * superseded by a newer HUP leaves it as it is, for the next rollout to go on from.
 */
export async function runReload(ctx: ReloadContext, serving: Generation, signal: AbortSignal): Promise<boolean> {
  notifySystemd('RELOADING=1');
  const ok = await reloadFrom(ctx, serving, signal).finally(() => notifySystemd('READY=1'));
  if (!ok && signal.reason !== 'SIGHUP') {
    serving.cap = null;
    ctx.pool.manage();
  }
  return ok;
}

/** Reload from `serving`; returns whether a candidate took over. */
export async function reloadFrom(ctx: ReloadContext, serving: Generation, signal: AbortSignal): Promise<boolean> {
  const candidate = await loadOrLog(ctx, serving, signal);
  if (!candidate) return false;
  await ctx.followSticky(candidate, true);
  await candidate.hooks.call('onReload');
  await ctx.transports.reconfigure(candidate.settings, candidate.resolved.fileConfig);
  ctx.logFiles.reopen(ctx.log);
  try {
    await ctx.boot(candidate);
  } catch (err) {
    const superseded = signal.reason === 'SIGHUP';
    const outcome = `reload ${superseded ? 'abandoned' : 'failed'}`;
    ctx.log[superseded ? 'info' : 'error'](
      err instanceof RolloutFailure
        ? `${outcome} ${describeProgress(err.progress)}${signal.aborted ? '' : `, generation ${serving.number} is restored to full size`}: ${oneLine(err.cause)}`
        : `${outcome}, the running workers keep serving: ${oneLine(err)}`,
    );
    if (!superseded) ctx.stats?.metrics.reload(false);
    // everything the candidate created goes: its workers drain (see boot), its sockets and log files close
    dropListeners(ctx, candidate.listeners, serving.listeners);
    ctx.logFiles.keepOnly(serving.settings);
    await ctx.followSticky(serving, false);
    return false;
  }
  dropListeners(ctx, serving.listeners, candidate.listeners);
  ctx.logFiles.keepOnly(candidate.settings);
  // the old generations, with any replacement they got while the new one booted
  for (const gen of new Set(ctx.pool.list().map((h) => h.gen))) if (gen !== candidate) gen.drain();
  ctx.placement.forgetGuests(); // the old generation, guests included, stops accepting
  ctx.pool.manage();
  ctx.log.info(`Reloaded: generation ${candidate.number} serving with ${candidate.target} worker(s)`);
  ctx.stats?.metrics.reload(true);
  return true;
}

/** The candidate; null (logged) if its configuration cannot be used. */
async function loadOrLog(ctx: ReloadContext, serving: Generation, signal: AbortSignal): Promise<Generation | null> {
  try {
    return await loadCandidate(ctx, serving, signal);
  } catch (err) {
    ctx.log.error(`reload failed, keeping the running workers and configuration: ${oneLine(err)}`);
    ctx.stats?.metrics.reload(false);
    return null;
  }
}

/** Close sockets of `from` that `keep` no longer uses. */
function dropListeners(ctx: ReloadContext, from: Listener[], keep: Listener[]): void {
  for (const l of from) {
    if (keep.includes(l)) continue;
    ctx.log.info(`Closing listener ${l.label}`);
    ctx.placement.close(l);
  }
}

/** Load the candidate; throws (a one-line reason) if its configuration cannot be used. */
async function loadCandidate(ctx: ReloadContext, serving: Generation, signal: AbortSignal): Promise<Generation> {
  // a generation's number is above every one that still has workers
  const number = Math.max(serving.number, ...ctx.pool.list().map((h) => h.generation)) + 1;
  // a config module that never settles must not wedge the signal queue
  const load = resolveSettings(ctx.cli, ctx.envArgs, ctx.cwd);
  const next = await settleWithin(load, serving.settings.bootTimeout * 1000, signal, 'the config file to load');
  requireApp(next.settings);
  ctx.logFiles.adopt(next.settings, workerIdentity(next.settings) ?? undefined);
  const access = unixSocketAccess(next.settings);
  const listeners = await bindAll(next.settings.bind, serving.listeners, process.env, false, access);
  for (const l of listeners)
    if (!serving.listeners.includes(l)) ctx.log.info(`Listening at: ${ctx.url(l)} (${process.pid})`);
  return new Generation(number, next, HookRunner.from(next.fileConfig, next.settings, ctx.log), listeners);
}
