// Where the master is (puma's @status): the one value every decision reads,
// and what follows from it for the pool.

import type { Generation } from './generation.js';
import type { Targets } from '../pool/pool.js';

/**
 * A boot or a reload carries the controller that a stop signal (or, for a
 * reload, a newer HUP) aborts it with; a reload remembers the phase it returns to.
 */
export type MasterState =
  | { phase: 'starting'; abort: AbortController }
  | { phase: 'running' }
  | { phase: 'paused' }
  | { phase: 'reloading'; abort: AbortController; resume: 'running' | 'paused' }
  | { phase: 'stopping'; mode: 'graceful' | 'quick' };

export const abortOf = (state: MasterState): AbortController | null =>
  state.phase === 'starting' || state.phase === 'reloading' ? state.abort : null;

/** Which generations want workers: the serving one (unless paused or stopping) and a booting one. */
export function targetsOf(state: MasterState, current: Generation | null, candidate: Generation | null): Targets {
  const paused = state.phase === 'paused' || (state.phase === 'reloading' && state.resume === 'paused');
  const stopping = state.phase === 'stopping';
  return {
    serving: stopping || paused ? null : current,
    booting: !stopping && candidate?.booting ? candidate : null,
    mayStop: state.phase === 'running',
  };
}
