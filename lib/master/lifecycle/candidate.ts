import { surgeOf } from '../../config/surge.js';
import type { Generation } from './generation.js';
import type { Pool } from '../pool/pool.js';
import { rollOut } from './rollout.js';

/**
 * Boot a whole generation and wait until every worker of it is ready; dead
 * workers are replaced meanwhile (see GenerationBoot for when it fails).
 * The caller has made it the candidate, so that the pool forks its workers.
 */
export async function bootWhole(
  gen: Generation,
  pool: Pool,
  signal: AbortSignal,
  lenient: boolean,
  warn: (m: string) => void,
): Promise<void> {
  const booted = gen.startBoot(lenient, signal, warn);
  pool.manage();
  await drainOnFailure(gen, booted);
}

/**
 * A reload's candidate beside the serving generation: all at once, or in
 * batches when its reloadSurge is below its size (rollout.ts). Paused (WINCH),
 * there is nothing to replace: the whole generation boots at once.
 */
export async function bootBeside(
  gen: Generation,
  serving: Generation,
  pool: Pool,
  signal: AbortSignal,
  paused: boolean,
  warn: (m: string) => void,
): Promise<void> {
  const surge = surgeOf(gen.settings.reloadSurge, gen.target);
  if (surge >= gen.target || paused) return bootWhole(gen, pool, signal, false, warn);
  const bootBatch = async (size: number) => {
    const booted = gen.startBoot(false, signal, warn, size);
    pool.manage();
    await booted;
  };
  await drainOnFailure(gen, rollOut({ pool, serving, candidate: gen, surge, signal, bootBatch }));
}

async function drainOnFailure(gen: Generation, booting: Promise<void>): Promise<void> {
  try {
    await booting;
  } catch (err) {
    gen.drain(); // TERM, never QUIT: see Generation.drain
    throw err;
  }
}
