// One generation of workers: what they run (settings, config file, hooks,
// listeners), how far its boot has come, and its workers. Every worker
// belongs to exactly one generation and is forked, replaced and stopped with
// that generation's settings, whatever the master has loaded since: a reload
// builds a candidate generation beside the serving one, and only a successful
// boot makes the candidate the serving one.

import { createHash } from 'node:crypto';
import type { HookRunner } from '../../config/hooks.js';
import type { Resolved } from '../../config/resolve.js';
import type { Settings } from '../../config/types.js';
import type { GenerationStatus } from '../../protocol/status.js';
import type { Listener } from '../../listeners/handles.js';
import { FDS_ENV, REUSEPORT_ENV, bindAll, inheritedFromParent } from '../../listeners/inherited.js';
import { GenerationBoot } from './generation-boot.js';
import { unixSocketAccess } from '../process/privileges.js';
import type { WorkerGeneration, WorkerHandle } from '../pool/worker-handle.js';

export type GenerationRole = GenerationStatus['role'];

/** A short digest of settings: equal digests, equal settings. */
export const settingsDigest = (settings: Settings): string =>
  createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 12);

const byAge = (a: WorkerHandle, b: WorkerHandle): number => a.startedAt - b.startedAt;

export class Generation implements WorkerGeneration {
  /** Its workers that have not exited (the pool adds and removes them). */
  readonly workers = new Set<WorkerHandle<Generation>>();
  readonly digest: string;
  /** When it was created, for display (wall clock: nothing is timed with it). */
  readonly createdAt = new Date().toISOString();
  /** How many workers it should have while it serves (TTIN and TTOU change it). */
  target: number;
  /** While a rolling reload replaces it: how many workers it keeps (those it handed over are not replaced). */
  cap: number | null = null;
  /** Its boot while it is under way (all of it, or the current batch of a rolling boot). */
  boot: GenerationBoot | null = null;
  /** A worker said the app serves its own TLS server: its listeners are https:// URLs. */
  appTls = false;

  constructor(
    readonly number: number,
    readonly resolved: Resolved,
    readonly hooks: HookRunner,
    readonly listeners: Listener[],
  ) {
    this.digest = settingsDigest(resolved.settings);
    this.target = resolved.settings.workers;
  }

  /** How many workers it should have now: its target, or fewer while a rolling reload replaces it. */
  get wanted(): number {
    return Math.min(this.target, this.cap ?? this.target);
  }

  get settings(): Settings {
    return this.resolved.settings;
  }

  get configPath(): string | null {
    return this.resolved.configPath;
  }

  /** Still booting: its workers are spawned and replaced until `boot.size` are ready. */
  get booting(): boolean {
    return this.boot?.active ?? false;
  }

  /** Workers that count towards its size: booting or ready, not retiring. */
  live(): WorkerHandle<Generation>[] {
    return [...this.workers].filter((h) => !h.retiring);
  }

  /**
   * Boot `size` workers of it (all of them, or a batch of a rolling boot whose
   * earlier batches' ready workers count) and settle when they are ready.
   */
  startBoot(lenient: boolean, signal: AbortSignal, warn: (m: string) => void, size = this.target): Promise<void> {
    const ready = this.live().filter((h) => h.state === 'ready').length;
    const boot = new GenerationBoot(this.number, this.settings, this.configPath, lenient, signal, warn, size, ready);
    this.boot = boot;
    return boot.done.finally(() => {
      if (this.boot === boot) this.boot = null;
    });
  }

  /**
   * Gracefully stop its `count` oldest workers (all by default): TERM, never
   * QUIT, because a worker may already have accepted connections on a shared
   * socket (even one of a candidate that never became ready), and a quick
   * stop would reset them.
   */
  drain(count = Number.POSITIVE_INFINITY): WorkerHandle<Generation>[] {
    const stopping = this.live().sort(byAge).slice(0, count);
    for (const h of stopping) h.term();
    return stopping;
  }

  /** What `tsgund status` and /metrics show of it. */
  status(role: GenerationRole): GenerationStatus {
    return {
      generation: this.number,
      role,
      configPath: this.configPath,
      digest: this.digest,
      app: this.settings.app ?? '',
      createdAt: this.createdAt,
      workers: this.workers.size,
    };
  }
}

/**
 * The first generation: the configuration the master started with, its
 * sockets bound or taken over from an old master (USR2), with the slot
 * sockets that master handed over (`inherited`, see slots.ts).
 */
export async function firstGeneration(
  resolved: Resolved,
  hooks: HookRunner,
): Promise<{ first: Generation; inherited: Map<string, number> }> {
  const { settings } = resolved;
  const inherited = inheritedFromParent(process.env);
  // sticky placement by the kernel needs a socket per worker slot, as reusePort does
  const reusePort = settings.reusePort || settings.sticky === 'ip';
  const listeners = await bindAll(settings.bind, [], process.env, reusePort, unixSocketAccess(settings));
  delete process.env[FDS_ENV];
  delete process.env[REUSEPORT_ENV];
  return { first: new Generation(1, resolved, hooks, listeners), inherited };
}
