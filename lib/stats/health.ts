// What /healthz and /readyz answer, decided from the master's status snapshot
// alone (pure functions, so the rules read in one place).

import type { StatusSnapshot } from '../protocol/status.js';

export interface Verdict {
  ok: boolean;
  /** One line for the response body. */
  why: string;
}

/** Alive: the master answers (it does, since it runs this) and at least one worker is ready. */
export function healthy(s: StatusSnapshot): Verdict {
  const ready = s.workers.filter((w) => w.state === 'ready').length;
  return ready > 0 ? { ok: true, why: 'ok' } : { ok: false, why: 'no worker is ready' };
}

/**
 * Ready for traffic: not shutting down, not paused by WINCH, and at least one
 * worker of the current generation is ready. During a HUP the current
 * generation is the old one until the new one is ready, so a reload (even a
 * failing one) keeps /readyz at 200 while the old workers serve. A HUP after
 * WINCH shows state 'reloading', but then no worker of the current generation
 * is left, so it stays 503 until the reload succeeds. With sticky placement
 * by X-Forwarded-For, it fails while connections wait for a worker.
 */
export function ready(s: StatusSnapshot): Verdict {
  if (s.state === 'stopping') return { ok: false, why: 'shutting down' };
  if (s.state === 'paused') return { ok: false, why: 'paused by WINCH (HUP brings the workers back)' };
  const current = s.workers.filter((w) => w.generation === s.generation && w.state === 'ready').length;
  if (current === 0) return { ok: false, why: `no ready worker in generation ${s.generation}` };
  if (s.placementBlocked) return { ok: false, why: `cannot place connections: ${s.placementBlocked}` };
  return { ok: true, why: 'ok' };
}
