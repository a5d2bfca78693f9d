// The one table of settings: the CLI flags, the config-file keys, the defaults and
// the validation rules are all derived from it, so they cannot drift apart.

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
  /** A string setting that may also be turned off with null. */
  nullable?: boolean;
  default: () => unknown;
}

/** The longest timer Node can set is 2^31-1 ms; a longer one fires after 1 ms. */
export const MAX_SECONDS = 2_147_483;
/** More workers than this is a typo, and forking them would exhaust the machine. */
export const MAX_WORKERS = 1024;

const webConcurrency = (): number => {
  const raw = process.env.WEB_CONCURRENCY;
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS ? n : 1;
};

const TABLE = [
  {
    key: 'bind',
    kind: 'list',
    short: 'b',
    help: 'address to listen on: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N (repeatable)',
    default: () => ['127.0.0.1:8000'],
  },
  { key: 'backlog', kind: 'int', min: 1, help: 'listen backlog (pending connections)', default: () => 2048 },
  {
    key: 'workers',
    kind: 'int',
    short: 'w',
    min: 1,
    max: MAX_WORKERS,
    help: 'number of worker processes (default: $WEB_CONCURRENCY or 1)',
    default: webConcurrency,
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
    key: 'gracefulTimeout',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds workers get to finish requests on TERM, HUP or recycle',
    default: () => 30,
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
    key: 'keepAlive',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds an idle keep-alive connection is kept open',
    default: () => 5,
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
    key: 'umask',
    kind: 'mode',
    short: 'm',
    nullable: true,
    help: 'umask of the master and workers, octal (e.g. 022)',
    default: () => null,
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
    help: 'error log level',
    default: () => 'info',
  },
  { key: 'logFormat', kind: 'enum', choices: ['text', 'json'], help: 'error log line format', default: () => 'text' },
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
    help: 'path of the control socket (default: <pidfile>.sock when a pidfile is set)',
    default: () => null,
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

export const HOOKS = [
  'onStarting',
  'onReload',
  'whenReady',
  'preFork',
  'postFork',
  'postWorkerInit',
  'workerInt',
  'workerAbort',
  'preExec',
  'childExit',
  'workerExit',
  'nworkersChanged',
  'onExit',
] as const;
export type HookName = (typeof HOOKS)[number];

export const flagOf = (s: SettingSpec): string => s.flag ?? s.key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
