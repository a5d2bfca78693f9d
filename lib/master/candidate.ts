// A reload's candidate generation: the configuration read again from scratch
// (TTIN/TTOU changes are dropped) and its sockets bound, beside the serving
// generation, which stays untouched until the candidate has booted.

import { HookRunner } from '../config/hooks.js';
import { requireApp, resolveSettings, type CommandLine } from '../config/resolve.js';
import type { Listener } from '../listeners/handles.js';
import { bindAll } from '../listeners/inherited.js';
import type { ErrorLog } from '../log/error-line.js';
import { Generation } from './generation.js';
import { settleWithin } from './generation-boot.js';
import type { MasterLogFiles } from './log-files.js';
import { unixSocketAccess, workerIdentity } from './privileges.js';

export interface CandidateContext {
  cli: CommandLine;
  envArgs: CommandLine | null;
  cwd: string;
  log: ErrorLog;
  logFiles: MasterLogFiles;
  url(l: Listener): string;
}

/** Load the candidate numbered `number`; throws (a one-line reason) if its configuration cannot be used. */
export async function loadCandidate(
  ctx: CandidateContext,
  serving: Generation,
  number: number,
  signal: AbortSignal,
): Promise<Generation> {
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
