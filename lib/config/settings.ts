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
  /** The environment variable the default comes from, if any. */
  env?: string;
  /** More than help says, for the settings reference (Markdown, links relative to docs/). */
  doc?: string;
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
    env: 'PORT',
    doc: "`:PORT` means every IPv4 address. An empty list (`bind: []`, or `-b none`) binds nothing: the app runs in the background, each worker ready once it has loaded (see [Apps](apps.md#what-an-app-may-be)). A `unix:PATH` bind belongs to the master's user, with `unixSocketMode` and `unixSocketGroup`, in a directory no other user can write to (see [Unix socket binds](configuration.md#unix-socket-binds)). Sockets passed by systemd socket activation replace it, for good.",
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
    doc: 'Linux, TCP binds only; unix binds, `fd://N` and systemd sockets keep the shared socket. See [Per-worker sockets](sockets.md#per-worker-sockets-reuseport).',
    default: () => false,
  },
  {
    key: 'sticky',
    kind: 'enum',
    choices: ['none', 'ip', 'forwarded'],
    help: "send each client to one worker: 'ip' (the kernel places each connection by the client's address; the master stays out of the data path), 'forwarded' (the master accepts and places by X-Forwarded-For from forwardedAllowIps, else by address) or 'none' (workers accept)",
    doc: "`ip`: each worker slot gets its own `SO_REUSEPORT` socket and a BPF program in the kernel picks one by the client's address; needs the native addon; changing the worker count moves most clients. `forwarded`: from a peer that `forwardedAllowIps` trusts, the client is the first address of `X-Forwarded-For`; not with `reusePort` or unix binds. Fixed at start (a HUP that changes it logs a warning). See [sticky placement](sticky.md).",
    default: () => 'none',
  },
  {
    key: 'workers',
    kind: 'int',
    short: 'w',
    min: 1,
    max: MAX_WORKERS,
    help: 'number of worker processes',
    env: 'WEB_CONCURRENCY',
    doc: 'A `WEB_CONCURRENCY` that is not a number is an error. TTIN and TTOU change the count until the next HUP, which applies this setting again.',
    default: webConcurrency,
    defaultText: '$WEB_CONCURRENCY or 1',
  },
  {
    key: 'killSignal',
    kind: 'enum',
    choices: ['none', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGUSR2'],
    help: "PM2's kill_signal: once a draining worker stops accepting, the app's own listeners of this signal run (tsgund's do not, and the drain goes on)",
    doc: "Set by an ecosystem file's `kill_signal`, for apps that clean up in `process.on('SIGINT')` under PM2. The master still sends TERM. An app handler that calls `process.exit()` cuts the requests still in flight: let it close its resources and return.",
    default: () => 'none',
  },
  {
    key: 'timeout',
    kind: 'number',
    short: 't',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds a silent worker may live before it is aborted and replaced (0: never)',
    doc: 'A worker that sends no heartbeat for this long gets SIGABRT, then SIGKILL, and is replaced.',
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
    doc: 'After it, the workers still running are SIGKILLed. Long-lived connections (WebSockets, SSE) must be closed by the app within it (see [Long-lived connections](apps.md#long-lived-connections)).',
    default: () => 30,
  },
  {
    key: 'reloadSurge',
    kind: 'string',
    help: "workers a reload boots at a time, a count or a percentage of workers ('4', '25%'); each batch must be ready before as many old workers drain",
    doc: 'A count from 1 to 1024, or a percentage from 1% to 100% of `workers` (rounded up). `100%` boots the whole new generation at once. See [Rolling reload](signals.md#rolling-reload).',
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
    doc: "The worker serves from when it listens, as under PM2, but HUP, TTIN and `start --daemon` wait for the app's word. Without it, `process.send('ready')` is ignored.",
    default: () => false,
  },
  {
    key: 'keepAlive',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds an idle keep-alive connection is kept open',
    doc: '0 turns keep-alive off.',
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
    doc: "Unlike gunicorn's per-field limit, this counts the request line and all headers together.",
    default: () => 8190,
  },
  {
    key: 'headersTimeout',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds a client has to finish its TLS handshake (with certfile) and send the request headers; then 408',
    doc: "Node's `headersTimeout`. tsgund makes it fire within a second of its value, on the app's own `node:http` server too.",
    default: () => 60,
  },
  {
    key: 'requestTimeout',
    kind: 'number',
    min: 0,
    max: MAX_SECONDS,
    help: 'seconds a client has to send the whole request; then 408 (0: no limit)',
    doc: "Node's `requestTimeout`, enforced within a second as `headersTimeout` is.",
    default: () => 300,
  },
  {
    key: 'workerConnections',
    kind: 'int',
    min: 1,
    help: 'most open connections per worker and bind; more are refused',
    doc: '`server.maxConnections`: connections beyond it are closed at once. Connections handed over by sticky placement do not count.',
    default: () => 1000,
  },
  {
    key: 'maxRequests',
    kind: 'int',
    min: 0,
    help: 'recycle a worker after this many requests (0: never)',
    doc: 'The worker drains and is replaced while it drains. Set `maxRequestsJitter` so that workers do not recycle together.',
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
    doc: 'The worker drains gracefully and is replaced while it drains.',
    default: () => 0,
  },
  {
    key: 'preload',
    kind: 'bool',
    help: 'load the app in the master before starting workers, failing fast on load errors',
    doc: 'A broken app then fails the start at once (exit 4). Node workers are new processes, not `fork(2)` copies: each still loads the app itself, so a HUP always loads new code.',
    default: () => false,
  },
  {
    key: 'workerNodeOptions',
    kind: 'list',
    flag: 'worker-node-option',
    help: "a Node option for the workers, such as '--import ./otel.mjs' (repeatable); loaded after the privilege drop",
    doc: "One option per value (`--import ./otel.mjs` or `--import=./otel.mjs`), among those Node accepts in NODE_OPTIONS. They go to the workers' exec arguments, not to NODE_OPTIONS: the master does not load them and the app's children do not inherit them. While the master runs as root, a module they name must be root's alone. See [OpenTelemetry](opentelemetry.md).",
    default: () => [],
  },
  {
    key: 'reload',
    kind: 'bool',
    help: 'reload workers when application files change (development)',
    doc: "Watches the files in the app's directory (with `reloadExtraFiles`) and reloads, as a HUP does, when one changes (one reload per burst of edits).",
    default: () => false,
  },
  {
    key: 'reloadExtraFiles',
    kind: 'list',
    flag: 'reload-extra-file',
    help: 'extra file or directory to watch with --reload (repeatable)',
    default: () => [],
  },
  {
    key: 'daemon',
    kind: 'bool',
    short: 'D',
    help: 'detach and run in the background',
    doc: '`start` returns once the master and its first generation serve (exit 0), or prints the boot error and exits with its code, leaving nothing behind. See [Daemon](deployment.md#daemon).',
    default: () => false,
  },
  {
    key: 'pidfile',
    kind: 'string',
    short: 'p',
    flag: 'pid',
    nullable: true,
    help: 'file to write the master pid to',
    doc: 'Keep it in a private directory such as `/run/tsgund/`: the control socket is created beside it.',
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
    doc: "Resolved through NSS (`getent`); the master must be root. The worker gets the user's `HOME`, `USER` and `LOGNAME`. See [Security model](security.md#root-and-the-workers-privilege-drop).",
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
    doc: 'Unlike gunicorn, `umask` does not set it. A socket handed over by USR2 or systemd keeps the mode it has.',
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
    doc: 'See [The access log](logging.md#the-access-log) for the atoms.',
    default: () => '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
  },
  {
    key: 'accessLogBuffered',
    kind: 'bool',
    help: 'batch access-log lines in each worker for up to 20 ms and write files asynchronously (never waits on a slow disk; a killed worker loses its last lines)',
    doc: "See [The access log](logging.md#the-access-log): by default each line is in the kernel before its response's last bytes.",
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
    doc: 'Needs the optional peer dependency `winston-syslog`. See [Log transports and syslog](logging.md#log-transports-and-syslog).',
    default: () => false,
  },
  {
    key: 'logSyslogTo',
    kind: 'string',
    help: 'where --log-syslog sends: udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH (needs unix-dgram)',
    doc: 'The port is 514 when left out.',
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
    doc: 'Serves `/healthz`, `/readyz` and Prometheus `/metrics`. See [Status, health and metrics](metrics.md).',
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
    doc: 'Applies to the server tsgund creates around a request listener; an app that brings its own server keeps its own TLS. Renewed in place when the files change or on USR1 (see [Certificates renewed without a restart](http2.md#certificates-renewed-without-a-restart)).',
    default: () => null,
  },
  { key: 'keyfile', kind: 'string', nullable: true, help: 'TLS private key file (PEM)', default: () => null },
  {
    key: 'http2',
    kind: 'bool',
    help: 'serve HTTP/2 from the servers tsgund creates: with TLS, ALPN offers h2 and http/1.1 on one port; cleartext, HTTP/1.1 and h2c with prior knowledge share one port (an Express app gets http/1.1 only)',
    doc: 'See [HTTP/2](http2.md): ALPN over TLS, the preface sniffed in cleartext, the two-GOAWAY drain. Refused with `--sticky forwarded` in cleartext.',
    default: () => false,
  },
  {
    key: 'http2MaxConcurrentStreams',
    kind: 'int',
    min: 1,
    max: 2 ** 32 - 1,
    help: "most open streams per HTTP/2 session (SETTINGS_MAX_CONCURRENT_STREAMS; Node's default is unlimited)",
    doc: "Node's `settings.maxConcurrentStreams`. See [Limits against abuse](http2.md#limits-against-abuse).",
    default: () => 100,
  },
  {
    key: 'http2StreamResetBurst',
    kind: 'int',
    min: 1,
    max: 2 ** 32 - 1,
    help: "streams a client may reset in a burst before the session is ended (Node's streamResetBurst, against rapid reset)",
    doc: "Node's `streamResetBurst`, with `http2StreamResetRate` a token bucket of resets. See [Limits against abuse](http2.md#limits-against-abuse).",
    default: () => 1000,
  },
  {
    key: 'http2StreamResetRate',
    kind: 'int',
    min: 1,
    max: 2 ** 32 - 1,
    help: "streams per second a client may reset once its burst is spent (Node's streamResetRate)",
    doc: "Node's `streamResetRate`. See [Limits against abuse](http2.md#limits-against-abuse).",
    default: () => 33,
  },
  {
    key: 'http2MaxSessionInvalidFrames',
    kind: 'int',
    min: 0,
    max: 2 ** 32 - 1,
    help: "invalid frames a session may send before it is closed (Node's maxSessionInvalidFrames)",
    doc: "Node's `maxSessionInvalidFrames` (Node's own default is 1000). See [Limits against abuse](http2.md#limits-against-abuse).",
    default: () => 100,
  },
  {
    key: 'http2MaxControlFrames',
    kind: 'int',
    min: 1,
    max: 2 ** 32 - 1,
    help: 'SETTINGS and PING frames a client may send per session and second; past it the session ends with GOAWAY',
    doc: 'Node has no such limit: tsgund counts, and ends the session with GOAWAY `ENHANCE_YOUR_CALM`. See [Limits against abuse](http2.md#limits-against-abuse).',
    default: () => 100,
  },
  {
    key: 'forwardedAllowIps',
    kind: 'list',
    help: 'proxy addresses trusted for X-Forwarded-* headers (comma list; * for all)',
    doc: 'Addresses or CIDRs (`10.0.0.0/8`, `fd00::/8`); IPv4 entries also match IPv4-mapped IPv6 peers. From any other peer, a unix socket included, `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port`, `Forwarded` and `X-Real-IP` are removed before the app sees the request. An invalid entry fails the start.',
    default: () => ['127.0.0.1', '::1'],
  },
  {
    key: 'controlSocket',
    kind: 'string',
    nullable: true,
    help: 'path of the control socket',
    doc: 'Used by `tsgund status` and `tsgund logs`; mode 0600. See [Pidfiles, control socket and proxies](security.md#pidfiles-control-socket-and-proxies).',
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

/** The default as help and the settings reference show it. */
export function defaultText(s: SettingSpec): string {
  if (s.defaultText) return s.defaultText;
  const v = s.default();
  if (v === null) return 'none';
  if (Array.isArray(v)) return v.length ? v.join(',') : 'none';
  if (s.kind === 'mode' && typeof v === 'number') return `0${v.toString(8)}`;
  return String(v);
}
