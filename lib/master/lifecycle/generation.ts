// One generation of workers: what they run (settings, config file, hooks,
// listeners) and how far its boot has come; its workers are the pool's
// (Pool.of). Every worker belongs to exactly one generation and is forked, replaced and stopped with
// that generation's settings, whatever the master has loaded since: a reload
// builds a candidate generation beside the serving one, and only a successful
// boot makes the candidate the serving one.

import type { HookRunner } from '../../config/hooks.js';
import type { Resolved } from '../../config/resolve.js';
import type { Settings } from '../../config/types.js';
import type { GenerationStatus } from '../../protocol/status.js';
import type { Listener } from '../../listeners/handles.js';
import { FDS_ENV, REUSEPORT_ENV, bindAll, inheritedFromParent } from '../../listeners/inherited.js';
import type { GenerationBoot } from './generation-boot.js';
import { unixSocketAccess } from '../process/privileges.js';
import type { WorkerGeneration } from '../pool/worker-handle.js';

export type GenerationRole = GenerationStatus['role'];

/**
 * A short digest of settings: equal digests, equal settings. Computed when
 * first asked for (status, metrics): node:crypto costs a start about 16 ms.
 */
export const settingsDigest = (settings: Settings): string =>
  process
    .getBuiltinModule('node:crypto')
    .createHash('sha256')
    .update(JSON.stringify(settings))
    .digest('hex')
    .slice(0, 12);

/**
 * What changes in a generation while it lives. Only the lifecycle owner
 * (lifecycle.ts) holds this object and writes it; everything else reads the
 * generation, whose getters have no setters.
 */
export interface GenerationState {
  /** How many workers it should have while it serves (TTIN and TTOU change it). */
  target: number;
  /** While a rolling reload replaces it: how many workers it keeps (those it handed over are not replaced). */
  cap: number | null;
  /** Its boot while it is under way (all of it, or the current batch of a rolling boot). */
  boot: GenerationBoot | null;
  /** A worker said the app serves its own TLS server: its listeners are https:// URLs. */
  appTls: boolean;
}

/** A fresh generation's state: its configured size, no cap, no boot. */
export const initialState = (settings: Settings): GenerationState => ({
  target: settings.workers,
  cap: null,
  boot: null,
  appTls: false,
});

export class Generation implements WorkerGeneration {
  private digestMemo: string | null = null;
  /** When it was created, for display (wall clock: nothing is timed with it). */
  readonly createdAt = new Date().toISOString();

  constructor(
    readonly number: number,
    readonly resolved: Resolved,
    readonly hooks: HookRunner,
    readonly listeners: Listener[],
    /** Written by whoever made it (the lifecycle owner), read here. */
    private readonly state: GenerationState = initialState(resolved.settings),
  ) {}

  get digest(): string {
    this.digestMemo ??= settingsDigest(this.resolved.settings);
    return this.digestMemo;
  }

  /** How many workers it should have while it serves. */
  get target(): number {
    return this.state.target;
  }

  /** While a rolling reload replaces it: how many workers it keeps. */
  get cap(): number | null {
    return this.state.cap;
  }

  get boot(): GenerationBoot | null {
    return this.state.boot;
  }

  get appTls(): boolean {
    return this.state.appTls;
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

  /** What `tsgund status` and /metrics show of it, with its `workers` that have not exited. */
  status(role: GenerationRole, workers: number): GenerationStatus {
    return {
      generation: this.number,
      role,
      configPath: this.configPath,
      digest: this.digest,
      app: this.settings.app ?? '',
      createdAt: this.createdAt,
      workers,
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
  state: GenerationState,
): Promise<{ first: Generation; inherited: Map<string, number> }> {
  const { settings } = resolved;
  const inherited = inheritedFromParent(process.env);
  // sticky placement by the kernel needs a socket per worker slot, as reusePort does
  const reusePort = settings.reusePort || settings.sticky === 'ip';
  const listeners = await bindAll(settings.bind, [], process.env, reusePort, unixSocketAccess(settings));
  delete process.env[FDS_ENV];
  delete process.env[REUSEPORT_ENV];
  return { first: new Generation(1, resolved, hooks, listeners, state), inherited };
}
