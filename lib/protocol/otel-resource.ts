// Each worker is its own process, so an OpenTelemetry SDK loaded in the
// workers (workerNodeOptions: --import) must tell them apart, or their
// exporters report one instance. The SDK reads its resource from
// OTEL_RESOURCE_ATTRIBUTES (key=value pairs, comma separated, values
// percent-encoded, as W3C baggage): the master puts the user's attributes
// there with the worker's slot and generation, and the worker, which alone
// knows its pid, adds service.instance.id = <name>-<slot>-<pid> before any
// module of its own or the app's loads. A replacement takes its slot, so the
// id changes with the process and keeps the slot it serves.
// A leaf module: both the master and the worker import it.

export const RESOURCE_ENV = 'OTEL_RESOURCE_ATTRIBUTES';
/** `<name>-<slot>`, from the master to the worker, which appends its pid. */
export const INSTANCE_ENV = 'TSGUND_OTEL_INSTANCE';

const INSTANCE_KEY = 'service.instance.id';
const OWN_KEYS = new Set([INSTANCE_KEY, 'tsgund.slot', 'tsgund.generation']);

const pair = (key: string, value: string): string => `${key}=${encodeURIComponent(value)}`;

/**
 * The worker's environment for `slot` of `generation`: the user's
 * attributes (`user`, from rawEnv or the master's environment) without the
 * keys tsgund sets, then tsgund's.
 */
export function workerResourceEnv(
  user: string | undefined,
  name: string,
  slot: number,
  generation: number,
): Record<string, string> {
  const kept = (user ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !OWN_KEYS.has(p.slice(0, p.indexOf('=')).trim()));
  kept.push(pair('tsgund.slot', String(slot)), pair('tsgund.generation', String(generation)));
  return { [RESOURCE_ENV]: kept.join(','), [INSTANCE_ENV]: `${name}-${slot}` };
}

/** In the worker: add its service.instance.id, once (the master's part is then consumed). */
export function applyInstanceId(env: NodeJS.ProcessEnv = process.env, pid = process.pid): void {
  const instance = env[INSTANCE_ENV];
  if (instance === undefined) return;
  delete env[INSTANCE_ENV];
  const own = pair(INSTANCE_KEY, `${instance}-${pid}`);
  env[RESOURCE_ENV] = env[RESOURCE_ENV] ? `${env[RESOURCE_ENV]},${own}` : own;
}
