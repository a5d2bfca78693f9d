// What --log-syslog-to and --log-syslog-facility accept: a leaf module, read by
// the settings table (the transport itself, syslog.ts, loads winston-syslog).

/** glossy's facility names (what --log-syslog-facility accepts). */
export const SYSLOG_FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'clock',
  'sec',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

export type SyslogTarget =
  | { protocol: 'udp4' | 'udp6' | 'tcp4' | 'tcp6'; host: string; port: number }
  | { protocol: 'unix'; path: string };

/**
 * gunicorn's --log-syslog-to: udp://HOST:PORT, tcp://HOST:PORT (port 514 when
 * left out) or unix:///PATH (a datagram socket such as /dev/log). Returns the
 * problem as text when `url` is none of these.
 */
export function parseSyslogTo(url: string): SyslogTarget | string {
  const expected = 'expected udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH';
  const unix = /^unix:\/\/(\/.+)$/.exec(url);
  if (unix) return { protocol: 'unix', path: unix[1]! };
  const net = /^(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!net) return expected;
  const port = net[3] === undefined ? 514 : Number(net[3]);
  if (port < 1 || port > 65535) return `port ${port} is out of range; ${expected}`;
  const v6 = net[2]!.startsWith('[');
  const host = v6 ? net[2]!.slice(1, -1) : net[2]!;
  return { protocol: `${net[1] as 'udp' | 'tcp'}${v6 ? '6' : '4'}`, host, port };
}
