// --log-syslog: the error log also goes to syslog (or journald) through
// winston-syslog, imported only when the option is set.
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import winston from 'winston';
import { ConfigError } from '../errors.js';
import type Transport from 'winston-transport';
import type { Entry, LogLevel } from './error-line.js';
import { parseSyslogTo } from './syslog-target.js';

/** tsgund's levels as syslog severities (winston-syslog's names). */
const SEVERITY: Record<LogLevel, string> = {
  critical: 'crit',
  error: 'error',
  warning: 'warning',
  info: 'info',
  debug: 'debug',
};

const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');

/** gunicorn's syslog line, `[pid] [LEVEL] message`: the pid is the worker's for a worker's line. */
const syslogFormat = winston.format((info) => {
  const entry = info as unknown as Entry & Record<symbol, string>;
  const level = entry[LEVEL] as LogLevel;
  const text = `[${entry.pid ?? process.pid}] [${level.toUpperCase()}] ${entry.message}`;
  entry[MESSAGE] = entry.stack === undefined ? text : `${text}\n${entry.stack}`;
  entry[LEVEL] = SEVERITY[level] ?? 'error';
  return info;
});

export interface SyslogOptions {
  logSyslogTo: string;
  logSyslogPrefix: string | null;
  logSyslogFacility: string;
  name: string;
}

/**
 * The syslog transport, through winston-syslog: an optional peer dependency,
 * so that installing tsgund runs no install script (winston-syslog's own
 * optional dependency unix-dgram compiles at install). unix:// needs
 * unix-dgram (Node cannot send unix datagrams): without it, one line says so.
 */
export async function createSyslogTransport(
  opts: SyslogOptions,
  load: () => Promise<typeof import('winston-syslog')> = () => import('winston-syslog'),
): Promise<Transport> {
  const target = parseSyslogTo(opts.logSyslogTo);
  if (typeof target === 'string') throw new Error(target);
  const { Syslog } = await load().catch((err: NodeJS.ErrnoException) => {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new ConfigError(
      "setting 'logSyslog': --log-syslog needs the package winston-syslog, which is not installed: " +
        'npm install winston-syslog@^2.7.1 next to tsgund (udp:// and tcp:// need no compiler)',
    );
  });
  if (target.protocol === 'unix') assertUnixDgram(opts.logSyslogTo);
  return new Syslog({
    ...target,
    facility: opts.logSyslogFacility,
    type: 'BSD', // RFC 3164, as gunicorn sends (glossy's RFC 5424 timestamps drop the leading zeros of milliseconds)
    appName: opts.logSyslogPrefix ?? opts.name,
    localhost: hostname(),
    pid: process.pid,
    format: syslogFormat(),
  });
}

function assertUnixDgram(url: string): void {
  try {
    const fromSyslog = createRequire(createRequire(import.meta.url).resolve('winston-syslog'));
    fromSyslog('unix-dgram');
  } catch {
    throw new Error(
      `${url} needs the optional native module unix-dgram, which does not load here ` +
        '(it is compiled at install, with a compiler, for the Node version that runs tsgund); ' +
        'use udp://localhost:514 (rsyslog, syslog-ng) instead',
    );
  }
}
