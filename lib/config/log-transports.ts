// The config keys that give the error log winston transports and a format, as
// gunicorn's logconfig_dict gives Python logging handlers. Functions and
// objects: only a JS or TS config file can set them.
import type Transport from 'winston-transport';
import { ConfigError } from '../errors.js';

export const LOG_CONFIG_KEYS = ['errorLogTransports', 'errorLogFormat'] as const;
export type LogConfigKey = (typeof LOG_CONFIG_KEYS)[number];

export const isLogConfigKey = (key: string): key is LogConfigKey =>
  (LOG_CONFIG_KEYS as readonly string[]).includes(key);

const kindOf = (v: unknown): string => {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
};

const EXPECTED: Record<LogConfigKey, string> = {
  errorLogTransports:
    'a function returning an array of winston transports (called again on USR1 and HUP), in a JS or TS config file',
  errorLogFormat: 'a winston format such as winston.format.json(), in a JS or TS config file',
};

/** Why `value` cannot be the setting `key`, or null when it can. */
export function logConfigProblem(key: LogConfigKey, value: unknown): string | null {
  const ok =
    key === 'errorLogTransports'
      ? typeof value === 'function'
      : typeof value === 'object' &&
        value !== null &&
        typeof (value as { transform?: unknown }).transform === 'function';
  return ok ? null : `setting '${key}' is ${kindOf(value)}, expected ${EXPECTED[key]}`;
}

/**
 * A winston transport: an instance of winston-transport, or (the user's copy
 * of winston-transport may not be ours) a writable stream with a log method.
 */
function isTransport(value: unknown, ours: abstract new (...args: never[]) => object): boolean {
  if (value instanceof ours) return true;
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return typeof t.log === 'function' && typeof t.write === 'function' && typeof t.on === 'function';
}

/** What the errorLogTransports function returned, checked: throws a one-line ConfigError naming the setting. */
export function checkTransports(value: unknown, ours: abstract new (...args: never[]) => object): Transport[] {
  const list = Array.isArray(value) ? value : null;
  const bad = list === null ? -1 : list.findIndex((t) => !isTransport(t, ours));
  if (list !== null && bad === -1) return list as Transport[];
  const got = list === null ? kindOf(value) : `${kindOf(list[bad])} at index ${bad}`;
  throw new ConfigError(
    `setting 'errorLogTransports': its function returned ${got}, expected an array of winston transports (winston-transport instances)`,
  );
}
