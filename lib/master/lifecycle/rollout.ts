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
import { abortReason } from './generation-boot.js';
import type { Pool, Worker } from '../pool/pool.js';

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

export interface RolloutContext {
  pool: Pool;
  serving: Generation;
  candidate: Generation;
  surge: number;
  signal: AbortSignal;
  /** Boot the candidate up to `size` ready workers (the pool replaces those that die meanwhile). */
  bootBatch(size: number): Promise<void>;
}

const DRAIN_POLL_MS = 20;

/**
 * Drive a rollout to its end; throws a RolloutFailure when a batch fails to
 * boot or the rollout is aborted. The serving generation's cap is left as it
 * is: the caller restores it (failure) or drains the generation (success).
 */
export async function rollOut(ctx: RolloutContext): Promise<void> {
  const { candidate, serving, surge } = ctx;
  const progress: RolloutProgress = {
    batches: 0,
    ofBatches: Math.ceil(candidate.target / surge),
    ready: 0,
    size: candidate.target,
  };
  for (;;) {
    if (ctx.signal.aborted) throw new RolloutFailure(new Error(abortReason(ctx.signal.reason)), progress);
    const view = viewOf(ctx);
    progress.ready = view.newReady;
    const step = rolloutStep(view);
    if (step.kind === 'done') return;
    if (step.kind === 'drain') {
      drainOldest(ctx, step.count);
      // it keeps what it has left: what it handed over is not replaced
      serving.cap = Math.min(serving.cap ?? serving.target, serving.live().length);
    } else if (step.kind === 'wait') await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    else {
      try {
        await ctx.bootBatch(step.size);
      } catch (err) {
        throw new RolloutFailure(err, progress);
      }
      progress.batches++;
    }
  }
}

function viewOf(ctx: RolloutContext): RolloutView {
  const workers = ctx.pool.list();
  const old = workers.filter((h) => h.gen !== ctx.candidate && !h.retiring);
  return {
    size: ctx.candidate.target,
    surge: ctx.surge,
    oldTarget: ctx.serving.target,
    oldLive: old.length,
    draining: workers.filter((h) => h.retiring).length,
    newReady: ctx.candidate.live().filter((h) => h.state === 'ready').length,
  };
}

/**
 * The old workers a ready batch replaces: first those on the slots its
 * workers took (with reusePort each slot has its own socket, which must keep
 * a worker accepting on it), then the oldest, older generations first.
 */
function drainOldest(ctx: RolloutContext, count: number): void {
  const taken = new Set(ctx.candidate.live().flatMap((h) => (h.state === 'ready' ? [h.slot] : [])));
  const rank = (h: Worker) => (taken.has(h.slot) ? 0 : 1);
  const old = ctx.pool
    .list()
    .filter((h) => h.gen !== ctx.candidate && !h.retiring)
    .sort((a, b) => rank(a) - rank(b) || a.gen.number - b.gen.number || a.startedAt - b.startedAt);
  for (const h of old.slice(0, count)) h.term();
}
