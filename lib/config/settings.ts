// The one table of settings: the CLI flags, the config-file keys, the defaults and
// the validation rules are all derived from it, so they cannot drift apart.

import { ConfigError } from '../errors.js';
import { SYSLOG_FACILITIES } from '../log/syslog-target.js';

export type SettingKind = 'int' | 'number' | 'bool' | 'string' | 'list' | 'enum' | 'mode';

export interface SettingSpec {
  key: string;
  kind: SettingKind;
  /** Long flag without dashes; defaults to the key in kebab-case. */
  flag?: string;
  short?: string;
  /** Repeatable flag whose values accumulate (list settings). */
  help: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** Other accepted spellings of a choice. */
  aliases?: Readonly<Record<string, string>>;
  /** A string setting that may also be turned off with null. */
  nullable?: boolean;
  default: () => unknown;
  /** The default as help shows it, when it depends on the environment. */
  defaultText?: string;
}

/** The longest timer Node can set is 2^31-1 ms; a longer one fires after 1 ms. */
export const MAX_SECONDS = 2_147_483;
/** More workers than this is a typo, and forking them would exhaust the machine. */
export const MAX_WORKERS = 1024;

/** A number from the environment (PaaS conventions); unset or empty means none. */
const fromEnv = (name: string, min: number, max: number): number | null => {
  const raw = process.env[name]?.trim();
  if (!raw) return null;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw new ConfigError(
      `environment variable ${name} is ${JSON.stringify(raw)}, expected an integer from ${min} to ${max}`,
    );
  }
  return n;
};

const webConcurrency = (): number => fromEnv('WEB_CONCURRENCY', 1, MAX_WORKERS) ?? 1;

// as in gunicorn (and what Heroku-style platforms expect): PORT means all interfaces
const defaultBind = (): string[] => {
  const port = fromEnv('PORT', 0, 65535);
  return port === null ? ['127.0.0.1:8000'] : [`0.0.0.0:${port}`];
};

const TABLE = [
  {
    key: 'bind',
    kind: 'list',
    short: 'b',
    help: 'address to listen on: HOST:PORT, [IPv6]:PORT, HOST (port 8000), unix:PATH or fd://N (repeatable)',
    default: defaultBind,
    defaultText: '0.0.0.0:$PORT if PORT is set, else 127.0.0.1:8000',
  },
  {
    key: 'backlog',
    kind: 'int',
    min: 1,
    // listen(2) takes an int, and libuv passes it on unchecked: 2^32 wrapped to 0.
    // The kernel caps it at net.core.somaxconn, whose own ceiling is 65535 on most kernels.
    max: 65535,
    help: 'listen backlog (pending connections; the kernel caps it at net.core.somaxconn)',
    default: () => 2048,
  },
  {
    key: 'reusePort',
    kind: 'bool',
    help: 'give each worker its own SO_REUSEPORT socket per TCP bind (the kernel spreads connections evenly)',
    default: () => false,
  },
  {
    key: 'sticky',
    kind: 'enum',
    choices: ['none', 'ip'],
    help: "send each client to one worker: 'ip' (the master accepts and hands each connection to a worker chosen by the client's address) or 'none' (workers accept)",
    default: () => 'none',
  },
  {
    key: 'workers',
    kind: 'int',
    short: 'w',
    min: 1,
    max: MAX_WORKERS,
    help: 'number of worker processes',
    default: webConcurrency,
    defaultText: '$WEB_CONCURRENCY or 1',
  },
  {
    key: 'timeout',
    kind: 'number',
    short: 't',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds a silent worker may live before it is aborted and replaced (0: never)',
    default: () => 30,
  },
  {
    key: 'stackOnTimeout',
    kind: 'bool',
    help: "log a stuck worker's stack before its timeout kills it (a helper thread per worker, started with its first request, about 13 MiB)",
    default: () => true,
  },
  {
    key: 'gracefulTimeout',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds workers get to finish requests on TERM, HUP or recycle',
    default: () => 30,
  },
  {
    key: 'reloadSurge',
    kind: 'string',
    help: "workers a reload boots at a time, a count or a percentage of workers ('4', '25%'); each batch must be ready before as many old workers drain",
    default: () => '100%',
  },
  {
    key: 'bootTimeout',
    kind: 'number',
    min: 0.1,
    max: MAX_SECONDS,
    help: 'seconds a new worker may take to load the app and report ready',
    default: () => 30,
  },
  {
    key: 'waitReady',
    kind: 'bool',
    help: "a worker is ready only once the app calls process.send('ready') (PM2's wait_ready), within boot-timeout",
    default: () => false,
  },
  {
    key: 'keepAlive',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds an idle keep-alive connection is kept open',
    default: () => 5,
  },
  {
    key: 'limitRequestLine',
    kind: 'int',
    min: 0,
    help: 'longest request line in bytes; longer gets 414 (0: no limit)',
    default: () => 4094,
  },
  {
    key: 'limitRequestFields',
    kind: 'int',
    min: 0,
    help: 'most header fields in a request; more gets 431 (0: no limit)',
    default: () => 100,
  },
  {
    key: 'limitRequestFieldSize',
    kind: 'int',
    min: 1,
    help: "bytes of the request line and headers together (Node's maxHeaderSize); more gets 431",
    default: () => 8190,
  },
  {
    key: 'headersTimeout',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds a client has to send the request headers; then 408',
    default: () => 60,
  },
  {
    key: 'requestTimeout',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds a client has to send the whole request; then 408 (0: no limit)',
    default: () => 300,
  },
  {
    key: 'workerConnections',
    kind: 'int',
    min: 1,
    help: 'most open connections per worker and bind; more are refused',
    default: () => 1000,
  },
  {
    key: 'maxRequests',
    kind: 'int',
    min: 0,
    help: 'recycle a worker after this many requests (0: never)',
    default: () => 0,
  },
  {
    key: 'maxRequestsJitter',
    kind: 'int',
    min: 0,
    help: 'add up to this many requests, at random, to max-requests per worker',
    default: () => 0,
  },
  {
    key: 'maxMemory',
    kind: 'number',
    min: 0,
    help: 'recycle a worker whose RSS exceeds this many MiB (0: never)',
    default: () => 0,
  },
  {
    key: 'preload',
    kind: 'bool',
    help: 'load the app in the master before starting workers, failing fast on load errors',
    default: () => false,
  },
  {
    key: 'reload',
    kind: 'bool',
    help: 'reload workers when application files change (development)',
    default: () => false,
  },
  {
    key: 'reloadExtraFiles',
    kind: 'list',
    flag: 'reload-extra-file',
    help: 'extra file or directory to watch with --reload (repeatable)',
    default: () => [],
  },
  { key: 'daemon', kind: 'bool', short: 'D', help: 'detach and run in the background', default: () => false },
  {
    key: 'pidfile',
    kind: 'string',
    short: 'p',
    flag: 'pid',
    nullable: true,
    help: 'file to write the master pid to',
    default: () => null,
  },
  { key: 'name', kind: 'string', short: 'n', help: 'process name shown by ps', default: () => 'tsgund' },
  {
    key: 'chdir',
    kind: 'string',
    nullable: true,
    help: 'directory to change to before loading the app',
    default: () => null,
  },
  {
    key: 'user',
    kind: 'string',
    short: 'u',
    nullable: true,
    help: 'run workers as this user (name or uid)',
    default: () => null,
  },
  {
    key: 'group',
    kind: 'string',
    short: 'g',
    nullable: true,
    help: 'run workers as this group (name or gid)',
    default: () => null,
  },
  {
    key: 'initgroups',
    kind: 'bool',
    help: "give workers the user's supplementary groups (as initgroups(3)); otherwise they keep only its group",
    default: () => false,
  },
  {
    key: 'umask',
    kind: 'mode',
    short: 'm',
    nullable: true,
    help: 'umask of the master and workers, octal (e.g. 022)',
    default: () => null,
  },
  {
    key: 'unixSocketMode',
    kind: 'mode',
    help: 'mode of the unix:PATH sockets tsgund binds, octal; connecting needs write permission',
    default: () => 0o660,
  },
  {
    key: 'unixSocketGroup',
    kind: 'string',
    nullable: true,
    help: "group of the unix:PATH sockets tsgund binds (name or gid), such as the proxy's",
    default: () => null,
    defaultText: "the workers' group with -u/-g, else the master's",
  },
  {
    key: 'rawEnv',
    kind: 'list',
    short: 'e',
    flag: 'env',
    help: 'set an environment variable for the app: KEY=VALUE (repeatable)',
    default: () => [],
  },
  {
    key: 'accesslog',
    kind: 'string',
    flag: 'access-logfile',
    nullable: true,
    help: "access log file ('-' for stdout)",
    default: () => null,
  },
  {
    key: 'accessLogFormat',
    kind: 'string',
    flag: 'access-logformat',
    help: 'access log format (gunicorn atoms)',
    default: () => '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
  },
  {
    key: 'accessLogBuffered',
    kind: 'bool',
    help: 'batch access-log lines in each worker for up to 20 ms and write files asynchronously (never waits on a slow disk; a killed worker loses its last lines)',
    default: () => false,
  },
  {
    key: 'errorlog',
    kind: 'string',
    flag: 'error-logfile',
    help: "error log file ('-' for stderr)",
    default: () => '-',
  },
  {
    key: 'loglevel',
    kind: 'enum',
    flag: 'log-level',
    choices: ['debug', 'info', 'warning', 'error', 'critical'],
    aliases: { warn: 'warning' },
    help: 'error log level',
    default: () => 'info',
  },
  { key: 'logFormat', kind: 'enum', choices: ['text', 'json'], help: 'error log line format', default: () => 'text' },
  {
    key: 'logSyslog',
    kind: 'bool',
    help: 'send the error log to syslog as well, through the winston-syslog package (see --log-syslog-to)',
    default: () => false,
  },
  {
    key: 'logSyslogTo',
    kind: 'string',
    help: 'where --log-syslog sends: udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH (needs unix-dgram)',
    default: () => 'udp://localhost:514',
  },
  {
    key: 'logSyslogPrefix',
    kind: 'string',
    nullable: true,
    help: 'the syslog app name of the lines',
    default: () => null,
    defaultText: 'the process name (--name)',
  },
  {
    key: 'logSyslogFacility',
    kind: 'enum',
    choices: SYSLOG_FACILITIES,
    help: 'syslog facility',
    default: () => 'user',
  },
  {
    key: 'statsBind',
    kind: 'string',
    nullable: true,
    help: 'address of the health and metrics listener',
    default: () => null,
  },
  {
    key: 'captureOutput',
    kind: 'bool',
    help: "send workers' stdout and stderr to the error log",
    default: () => false,
  },
  {
    key: 'certfile',
    kind: 'string',
    nullable: true,
    help: 'TLS certificate file (PEM); serves HTTPS with --keyfile',
    default: () => null,
  },
  { key: 'keyfile', kind: 'string', nullable: true, help: 'TLS private key file (PEM)', default: () => null },
  {
    key: 'forwardedAllowIps',
    kind: 'list',
    help: 'proxy addresses trusted for X-Forwarded-* headers (comma list; * for all)',
    default: () => ['127.0.0.1', '::1'],
  },
  {
    key: 'controlSocket',
    kind: 'string',
    nullable: true,
    help: 'path of the control socket',
    default: () => null,
    defaultText: '<pidfile>.sock when a pidfile is set, else none',
  },
] as const satisfies readonly SettingSpec[];

/** The type of each kind of value; an enum's is the union of its choices. */
interface KindValues {
  int: number;
  number: number;
  bool: boolean;
  string: string;
  list: string[];
  mode: number;
}
type ValueOf<S extends SettingSpec> =
  | (S extends { kind: 'enum'; choices: readonly (infer C)[] }
      ? C
      : S['kind'] extends keyof KindValues
        ? KindValues[S['kind']]
        : never)
  | (S extends { nullable: true } ? null : never);

type Spec = (typeof TABLE)[number];
export type SettingKey = Spec['key'];
/** One property per row of the table, so a key that is not in it does not compile. */
export type SettingValues = { [S in Spec as S['key']]: ValueOf<S> };

export const SETTINGS: readonly (SettingSpec & { key: SettingKey })[] = TABLE;

export const flagOf = (s: SettingSpec): string => s.flag ?? s.key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
