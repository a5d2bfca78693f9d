// What the pool should do next, as a pure function of what it is now: the
// level-triggered half of gunicorn's manage_workers. The master asks on every
// tick and after every worker exit, so a lost event leaves the pool wrong for
// at most one tick.

import type { WorkerState } from '../../protocol/messages.js';

export interface WorkerView {
  id: number;
  generation: number;
  state: WorkerState;
  /** Stopping on purpose (drain, recycle, shutdown): no longer counted. */
  retiring: boolean;
  startedAt: number;
}

export interface PoolView {
  workers: readonly WorkerView[];
  /** The generation that serves and how many workers it should have; null when none should run (paused, stopping). */
  serving: { generation: number; target: number } | null;
  /** A generation that is booting (the first one, or a reload's) and its size. */
  booting: { generation: number; size: number } | null;
  /** Forks under way per generation (preFork hooks are async): counted once, until the worker is registered. */
  pending: ReadonlyMap<number, number>;
  /** Surplus workers of the serving generation may be stopped (not while a reload is under way). */
  mayStop: boolean;
}

export interface Decision {
  spawn: { generation: number; count: number }[];
  /** Workers to stop gracefully. */
  stop: number[];
}

/** Workers of `generation` that count towards its size: not retiring, booting or ready. */
const live = (pool: PoolView, generation: number): WorkerView[] =>
  pool.workers.filter((w) => w.generation === generation && !w.retiring);

const byAge = (a: WorkerView, b: WorkerView): number => a.startedAt - b.startedAt;

/**
 * What `generation` lacks. A retiring worker that has not exited yet is
 * replaced while it drains, but only one at a time: the rest still count,
 * so the generation never has more than `size` + 1 processes, whatever its
 * workers claim (a worker that says it retires and stays is SIGKILLed after
 * the graceful timeout, and only then replaced).
 */
function shortfall(pool: PoolView, generation: number, size: number): number {
  const all = pool.workers.filter((w) => w.generation === generation);
  const retiring = all.filter((w) => w.retiring).length;
  const counted = all.length - Math.min(retiring, 1);
  return Math.max(0, size - counted - (pool.pending.get(generation) ?? 0));
}

/**
 * Spawn what each generation lacks. Stop only a surplus that is real: more
 * *ready* workers than the target, so a worker that is still booting (and may
 * yet die) never costs a serving one its life.
 */
export function decide(pool: PoolView): Decision {
  const spawn: Decision['spawn'] = [];
  const stop: number[] = [];
  for (const want of [
    pool.serving && { generation: pool.serving.generation, size: pool.serving.target },
    pool.booting,
  ]) {
    if (!want) continue;
    const count = shortfall(pool, want.generation, want.size);
    if (count > 0) spawn.push({ generation: want.generation, count });
  }
  if (pool.serving && pool.mayStop) {
    const ready = live(pool, pool.serving.generation)
      .filter((w) => w.state === 'ready')
      .sort(byAge);
    stop.push(...ready.slice(0, Math.max(0, ready.length - pool.serving.target)).map((w) => w.id));
  }
  return { spawn, stop };
}

/**
 * After TTOU lowered the target: the oldest workers beyond it, counting forks
 * under way (gunicorn stops the oldest too). Nothing when a crash already
 * left the pool at or below the new target.
 */
export function oldestSurplus(pool: PoolView): number[] {
  if (!pool.serving) return [];
  const { generation, target } = pool.serving;
  const workers = live(pool, generation).sort(byAge);
  const surplus = workers.length + (pool.pending.get(generation) ?? 0) - target;
  return workers.slice(0, Math.max(0, Math.min(surplus, workers.length))).map((w) => w.id);
}
