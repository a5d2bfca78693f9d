// A rolling reload (puma's phased restart, PM2's reload, a Kubernetes
// rollout's maxSurge): with a surge s below the new generation's size, its
// workers boot s at a time, and each batch must be ready before as many old
// workers drain. The worker processes (booting, ready and draining, of every
// generation) never exceed max(old target, new size) + s: a batch starts
// only once the old workers drained for the previous one have exited.
//
// The old workers are everything that is not the candidate: the serving
// generation (capped, so that it does not replace what it handed over) and
// any older or superseded generation still draining. A newer HUP supersedes
// the candidate: its workers drain, the serving generation keeps the size it
// had come down to (refilling it beside the draining candidate would break the
// bound), and the next rollout starts from that mix once they have exited.

import { oneLine } from '../../errors.js';
import type { Generation } from './generation.js';
import type { Worker } from '../pool/pool.js';

/** What the next step of a rollout depends on: counts of live (not draining) workers. */
export interface RolloutView {
  /** The new generation's size. */
  size: number;
  /** Workers per batch (1 … size). */
  surge: number;
  /** The serving generation's target (TTIN/TTOU included). */
  oldTarget: number;
  /** Live workers of every other generation. */
  oldLive: number;
  /** Workers of any generation that were stopped and have not exited yet. */
  draining: number;
  /** Ready workers of the new generation. */
  newReady: number;
}

export type RolloutStep =
  | { kind: 'done' }
  /** Gracefully stop the `count` oldest old workers: a batch is ready in their place. */
  | { kind: 'drain'; count: number }
  /** Drained workers still hold their place: wait for them to exit. */
  | { kind: 'wait' }
  /** Grow the new generation to `size` workers and wait until they are ready. */
  | { kind: 'boot'; size: number };

/** The old workers allowed beside `newReady` ready new ones. */
export const oldAllowed = (v: RolloutView): number => Math.max(0, Math.max(v.oldTarget, v.size) - v.newReady);

/** The next step: finish, drain what a ready batch replaces, wait for drains to end, or boot the next batch. */
export function rolloutStep(v: RolloutView): RolloutStep {
  if (v.newReady >= v.size) return { kind: 'done' };
  const excess = v.oldLive - oldAllowed(v);
  if (excess > 0) return { kind: 'drain', count: excess };
  if (v.draining > 0) return { kind: 'wait' };
  const room = Math.max(v.oldTarget, v.size) + v.surge - v.oldLive;
  return { kind: 'boot', size: Math.min(v.size, v.newReady + v.surge, room) };
}

/** How far a rollout got, for its failure line. */
export interface RolloutProgress {
  batches: number;
  ofBatches: number;
  ready: number;
  size: number;
}

export const describeProgress = (p: RolloutProgress): string =>
  `after ${p.batches} of ${p.ofBatches} batches (${p.ready} of ${p.size} workers)`;

/** A rollout that stopped: why, and how far it got. */
export class RolloutFailure extends Error {
  constructor(
    override readonly cause: unknown,
    readonly progress: RolloutProgress,
  ) {
    super(`${describeProgress(progress)}: ${oneLine(cause)}`);
  }
}

/**
 * The old workers a ready batch replaces, in order: first those on the slots
 * the candidate's ready workers took (with reusePort each slot has its own
 * socket, which must keep a worker accepting on it), then the oldest, older
 * generations first.
 */
export function replacedFirst(workers: readonly Worker[], candidate: Generation): Worker[] {
  const taken = new Set(
    workers.flatMap((h) => (h.gen === candidate && !h.retiring && h.state === 'ready' ? [h.slot] : [])),
  );
  const rank = (h: Worker) => (taken.has(h.slot) ? 0 : 1);
  return workers
    .filter((h) => h.gen !== candidate && !h.retiring)
    .sort((a, b) => rank(a) - rank(b) || a.gen.number - b.gen.number || a.startedAt - b.startedAt);
}
