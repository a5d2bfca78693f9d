// reloadSurge: how many workers of a new generation a reload boots at a
// time, as a count ("4") or a share of the generation's workers ("25%").

import { MAX_WORKERS } from './settings.js';

export type Surge = { count: number } | { percent: number };

export const SURGE_EXPECTED = `a count of workers from 1 to ${MAX_WORKERS} or a percentage from 1% to 100% (such as 4 or 25%)`;

/** The setting's value parsed; null if it is neither a count nor a percentage in range. */
export function parseSurge(value: string): Surge | null {
  const m = /^\s*(\d{1,4})\s*(%?)\s*$/.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  if (m[2]) return n >= 1 && n <= 100 ? { percent: n } : null;
  return n >= 1 && n <= MAX_WORKERS ? { count: n } : null;
}

/** Workers per batch for a generation of `workers`: rounded up, at least 1, at most all of them. */
export function surgeOf(value: string, workers: number): number {
  const surge = parseSurge(value) ?? { percent: 100 };
  const n = 'count' in surge ? surge.count : Math.ceil((workers * surge.percent) / 100);
  return Math.max(1, Math.min(workers, n));
}
