import { parseBind, formatBind } from './address.js';
import { adoptFd, bindListener, type Listener, type UnixSocketAccess } from './handles.js';

/** Environment that hands sockets from an old master to the new one (USR2). */
export const FDS_ENV = 'TSGUND_FDS';
export const PARENT_ENV = 'TSGUND_PARENT_PID';
/** Labels of the handed-over listeners that were bound with SO_REUSEPORT. */
export const REUSEPORT_ENV = 'TSGUND_REUSEPORT';

/** bind label → fd, as the old master wrote it into TSGUND_FDS (slot sockets as `LABEL#N`). */
export function inheritedFromParent(env: NodeJS.ProcessEnv): Map<string, number> {
  const raw = env[FDS_ENV];
  const byLabel = new Map<string, number>();
  if (!raw) return byLabel;
  for (const [fd, label] of Object.entries(JSON.parse(raw) as Record<string, string>)) byLabel.set(label, Number(fd));
  return byLabel;
}

/** Labels of sockets that came from systemd, kept through HUPs and upgrades. */
const SYSTEMD = 'systemd:';
const fromSystemd = (l: Listener): boolean => l.label.startsWith(SYSTEMD);

/** Sockets passed by systemd socket activation, meant for this very process. */
export function systemdSockets(env: NodeJS.ProcessEnv): Listener[] {
  const count = Number(env.LISTEN_FDS);
  if (!count || Number(env.LISTEN_PID) !== process.pid) return [];
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  return Array.from({ length: count }, (_, i) =>
    adoptFd(3 + i, `${SYSTEMD}fd://${3 + i}` + (names[i] ? ` (${names[i]})` : '')),
  );
}

/**
 * Bind every configured address, reusing sockets handed over by a parent master
 * (matched by bind label) and those already held (matched the same way on HUP).
 * Sockets systemd passed in replace `bind` altogether, as in gunicorn, and for
 * good: HUPs and the masters a USR2 starts keep them whatever `bind` says.
 */
export async function bindAll(
  binds: string[],
  held: Listener[],
  env: NodeJS.ProcessEnv,
  reusePort = false,
  unixAccess?: UnixSocketAccess,
): Promise<Listener[]> {
  if (held.some(fromSystemd)) return held;
  const fromParent = held.length === 0 ? inheritedFromParent(env) : new Map<string, number>();
  if (held.length === 0) {
    const activated = systemdSockets(env);
    const handedOver = [...fromParent]
      .filter(([label]) => label.startsWith(SYSTEMD))
      .map(([label, fd]) => adoptFd(fd, label));
    if (activated.length || handedOver.length) return [...activated, ...handedOver];
  }
  const reused = new Set<string>(JSON.parse(env[REUSEPORT_ENV] ?? '[]') as string[]);
  const result: Listener[] = [];
  for (const bind of binds) {
    const address = parseBind(bind);
    const label = formatBind(address);
    const kept = held.find((l) => l.label === label);
    const fd = fromParent.get(label);
    if (kept) result.push(kept);
    else if (fd !== undefined) {
      result.push({
        ...adoptFd(fd, label),
        address,
        unixPath: address.kind === 'unix' ? address.path : null,
        reusePort: reused.has(label),
      });
    } else result.push(await bindListener(address, reusePort && address.kind === 'tcp', unixAccess));
  }
  return result;
}

/** spawn() stdio and env that pass `listeners` and the slot sockets to a new master as fds 3, 4, … */
export function handOver(
  listeners: Listener[],
  slotSockets: { label: string; fd: number }[] = [],
): { stdio: number[]; env: Record<string, string> } {
  const all = [...listeners.map((l) => ({ label: l.label, fd: l.handle.fd })), ...slotSockets];
  const map: Record<string, string> = {};
  all.forEach((s, i) => {
    map[String(3 + i)] = s.label;
  });
  const reused = listeners.filter((l) => l.reusePort).map((l) => l.label);
  return {
    stdio: all.map((s) => s.fd),
    env: { [FDS_ENV]: JSON.stringify(map), [REUSEPORT_ENV]: JSON.stringify(reused) },
  };
}
