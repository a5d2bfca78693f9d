// What a reload changes: one log line naming the settings that differ from
// the serving generation's, and which of them only a restart applies. The
// environment is named by variable, never by value (it holds secrets).

import type { Settings } from '../../config/types.js';

/** Settings a running master took at start: a reload reads them but cannot apply them. */
const AT_START: ReadonlySet<string> = new Set([
  'daemon',
  'pidfile',
  'controlSocket',
  'statsBind',
  'sticky',
  'name',
  'umask',
]);

const shown = (v: unknown): string => (Array.isArray(v) ? v.join(',') || 'none' : String(v));

/** `FEATURE changed, NEW added, OLD removed` for two KEY=VALUE lists. */
function envChanges(from: string[], to: string[]): string {
  const map = (list: string[]) => new Map(list.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
  const [a, b] = [map(from), map(to)];
  const out: string[] = [];
  for (const [k, v] of b)
    if (!a.has(k)) out.push(`${k} added`);
    else if (a.get(k) !== v) out.push(`${k} changed`);
  for (const k of a.keys()) if (!b.has(k)) out.push(`${k} removed`);
  return out.join(', ');
}

/** The line a reload logs about its settings, or null when none changed. */
export function describeChanges(from: Settings, to: Settings): string | null {
  const now: string[] = [];
  const restart: string[] = [];
  const a = from as unknown as Record<string, unknown>;
  const b = to as unknown as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (JSON.stringify(a[key]) === JSON.stringify(b[key]) || typeof b[key] === 'function') continue;
    const what =
      key === 'rawEnv'
        ? `env (${envChanges((a[key] as string[]) ?? [], (b[key] as string[]) ?? [])})`
        : `${key} ${shown(a[key])} -> ${shown(b[key])}`;
    (AT_START.has(key) ? restart : now).push(what);
  }
  if (!now.length && !restart.length) return null;
  const applied = now.length ? `Settings changed: ${now.join('; ')}` : 'No setting changed that a reload applies';
  return restart.length ? `${applied}; these need a restart (stop, then start): ${restart.join('; ')}` : applied;
}
