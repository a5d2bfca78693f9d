// Every tsgund setting, set to its default. Copy this file to your app's
// directory as tsgund.config.ts (it is found from the current directory, or
// pass -c FILE) and keep only what you change. Command-line flags override it;
// `kill -HUP` re-reads it. Check it with `tsgund check-config`, see the merged
// result with `tsgund start --print-config`.
import { defineConfig } from 'tsgund';

export default defineConfig({
  // module[:export] to serve: a (req, res) listener, a Koa or Fastify app, a
  // { fetch } handler, an http/https/http2/net Server not listening yet, an
  // async factory returning one, or a module that calls listen(process.env.PORT)
  // itself. The APP argument of `tsgund start` overrides it. Default: none,
  // one of the two is required.
  app: 'app.js',

  // ---- sockets ----------------------------------------------------------
  // HOST:PORT, [IPv6]:PORT, HOST (port 8000), unix:PATH or fd://N, one or a
  // list. Ignored under systemd socket activation (LISTEN_FDS). Default:
  // '0.0.0.0:$PORT' when PORT is set, else '127.0.0.1:8000'.
  bind: '127.0.0.1:8000',
  // Pending connections the kernel queues per socket, 1 to 65535 (the kernel
  // caps it at net.core.somaxconn). Default: 2048.
  backlog: 2048,
  // One SO_REUSEPORT socket per worker for each TCP bind: the kernel spreads
  // connections evenly over the workers, but one busy worker's queue is not
  // taken over by an idle one (see docs/sockets.md). Default: false.
  reusePort: false,
  // Mode of the unix:PATH sockets tsgund binds; a client needs write
  // permission to connect. Default: 0o660.
  unixSocketMode: 0o660,
  // Their group, such as the proxy's ('www-data'); their owner is the
  // master's user, so the app cannot chmod them. Default: null (the workers'
  // group, else the master's).
  unixSocketGroup: null,
  // Keep each client on one worker, as socket.io's long-polling needs (see
  // docs/sticky.md). 'ip': the kernel places each connection by the client's
  // address (a SO_REUSEPORT socket per worker slot and a BPF program; needs
  // the native addon). 'forwarded': the master accepts and places by
  // X-Forwarded-For from a trusted proxy. 'none': workers accept. Default: 'none'.
  sticky: 'none',

  // ---- workers ----------------------------------------------------------
  // Worker processes. Default: $WEB_CONCURRENCY, else 1.
  workers: Number(process.env.WEB_CONCURRENCY) || 1,
  // Seconds a worker may miss its heartbeat before it gets SIGABRT, then
  // SIGKILL, and is replaced (0: never). Default: 30.
  timeout: 30,
  // Log a stuck worker's stack (or, blocked in native code, its kernel state)
  // before its timeout kills it: a helper thread per worker, started with its
  // first request (about 13 MiB each). Default: true.
  stackOnTimeout: true,
  // Seconds workers get to finish in-flight requests on TERM, HUP and
  // recycling before they are killed. Default: 30.
  gracefulTimeout: 30,
  // A signal the app's own listeners get once a draining worker has stopped
  // accepting (PM2's kill_signal, SIGINT there): their cleanup runs while the
  // drain goes on. Default: 'none'.
  killSignal: 'none',
  // Workers a reload (HUP) boots at a time: a count ('4') or a percentage of
  // workers ('25%'). Each batch must be ready before as many old workers
  // drain, so a reload adds at most this many processes. Default: '100%' (the
  // whole new generation at once).
  reloadSurge: '100%',
  // Seconds a new worker may take to load the app and report ready; a reload
  // whose workers miss it is abandoned and the old ones keep serving. Default: 30.
  bootTimeout: 30,
  // A worker is ready only once the app calls process.send('ready') (PM2's
  // wait_ready), within bootTimeout. Default: false (ready once it listens).
  waitReady: false,
  // Seconds an idle keep-alive connection stays open. Default: 5.
  keepAlive: 5,
  // Limits of a request (gunicorn's): a longer request line gets 414 (0: no
  // limit); more header fields get 431 (0: no limit); the request line and
  // headers together over this many bytes get 431 (Node's maxHeaderSize).
  limitRequestLine: 4094,
  limitRequestFields: 100,
  limitRequestFieldSize: 8190,
  // Seconds a client has to send the headers, and the whole request (0: no
  // limit), before it gets 408. Defaults: 60 and 300.
  headersTimeout: 60,
  requestTimeout: 300,
  // Open connections per worker and bind; more are closed. Default: 1000.
  workerConnections: 1000,
  // Recycle a worker after this many requests (0: never). Default: 0.
  maxRequests: 0,
  // Up to this many requests added at random per worker, so that they do not
  // all recycle at once. Default: 0.
  maxRequestsJitter: 0,
  // Recycle a worker whose RSS exceeds this many MiB (0: never). Default: 0.
  maxMemory: 0,
  // Load the app in the master first: start fails fast on a load error, and
  // HUP then does not load new code. Default: false.
  preload: false,
  // Node options for every worker, such as an OpenTelemetry SDK:
  // ['--import ./otel.mjs'] (docs/opentelemetry.md). Loaded after the
  // privilege drop; a module they name must be root's alone while the master
  // runs as root. Default: [].
  workerNodeOptions: [],
  // Development: HUP when the app's files change. Default: false.
  reload: false,
  // More files or directories --reload watches. Default: [].
  reloadExtraFiles: [],

  // ---- process ----------------------------------------------------------
  // Detach into the background; `start` returns once the workers serve.
  // Not under systemd. Default: false.
  daemon: false,
  // Where the master writes its pid. Default: null (no pidfile). Use a
  // private directory such as /run/tsgund/app.pid (RuntimeDirectory=tsgund
  // under systemd), never a world-writable one like /tmp: another user could
  // take the <pidfile>.sock path first and block the start.
  pidfile: null,
  // Process name shown by ps ("<name>: master [app]"). Default: 'tsgund'.
  name: 'tsgund',
  // Directory to change to before loading the app. Default: null (stay).
  chdir: null,
  // Run the workers as this user and group; the master must be root.
  // Default: null (the master's own).
  user: null,
  group: null,
  // Give the workers the user's supplementary groups (initgroups(3)); off, they keep only the group
  initgroups: false,
  // umask of the master and workers, as a number (0o022) or an octal string
  // ('022'). Default: null (inherited).
  umask: null,
  // KEY=VALUE environment variables for the app. Default: [].
  rawEnv: [],
  // Unix socket that `tsgund status` reads. Default: null, which means
  // <pidfile>.sock when a pidfile is set.
  controlSocket: null,

  // ---- logs -------------------------------------------------------------
  // Access log file, '-' for stdout. Default: null (no access log).
  accesslog: null,
  // gunicorn's access_log_format atoms. Default: the combined format below.
  accessLogFormat: '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
  // Batch access-log lines for up to 20 ms and write them asynchronously, for
  // a log on a slow or network filesystem; a killed worker then loses its
  // last lines. Default: false (each line is written before its response ends).
  accessLogBuffered: false,
  // Error log file, '-' for stderr. Default: '-'.
  errorlog: '-',
  // debug, info, warning, error or critical. Default: 'info'.
  loglevel: 'info',
  // Error log lines as 'text' (gunicorn's) or 'json'. Default: 'text'.
  logFormat: 'text',
  // Send the workers' stdout and stderr to the error log. Default: false.
  captureOutput: false,
  // Send the error log to syslog as well (the workers' lines through the
  // master); needs `npm install winston-syslog`. Default: false.
  logSyslog: false,
  // Where: udp://HOST:PORT, tcp://HOST:PORT, or unix:///dev/log (needs the
  // optional native module unix-dgram). Default: 'udp://localhost:514'.
  logSyslogTo: 'udp://localhost:514',
  // The syslog app name of the lines. Default: null (the name setting).
  logSyslogPrefix: null,
  // The syslog facility: user, daemon, local0 … local7 and the others. Default: 'user'.
  logSyslogFacility: 'user',
  // winston transports beside the error log file, with their format: a
  // function, called again on USR1 and HUP. Default: none. For example:
  //   errorLogTransports: () => [new winston.transports.File({ filename: 'app-errors.log' })],
  //   errorLogFormat: winston.format.json(),
  // Address of a health and metrics listener. Default: null (none).
  statsBind: null,

  // ---- TLS, HTTP/2 and proxies ------------------------------------------
  // PEM certificate and key: serve HTTPS. They renew in place when the files
  // change or on USR1. Default: null (plain HTTP).
  certfile: null,
  keyfile: null,
  // HTTP/2 beside HTTP/1.1 on the same port: by ALPN with TLS, by the
  // connection preface in cleartext (h2c). Default: false (docs/http2.md).
  http2: false,
  // Its limits against abuse: streams open at once per session; stream
  // resets allowed in a burst and per second; invalid frames per session;
  // SETTINGS and PING frames per second. Defaults as below.
  http2MaxConcurrentStreams: 100,
  http2StreamResetBurst: 1000,
  http2StreamResetRate: 33,
  http2MaxSessionInvalidFrames: 100,
  http2MaxControlFrames: 100,
  // Proxies whose X-Forwarded-*, Forwarded and X-Real-IP headers are trusted:
  // addresses or CIDRs ('10.0.0.0/8', 'fd00::/8'), '*' for all; from other
  // peers these headers are removed. Default: ['127.0.0.1', '::1'].
  forwardedAllowIps: ['127.0.0.1', '::1'],

  // ---- hooks ------------------------------------------------------------
  // Each gets a context ({ settings, pid, log }); a returned promise is
  // awaited. In the master: onStarting, onReload, whenReady, preFork(ctx,
  // { generation }), postFork(ctx, worker), preExec (before USR2 starts a
  // new master), childExit(ctx, worker & { code, signal }),
  // nworkersChanged(ctx, { from, to }), onExit. In each worker:
  // postWorkerInit, preRequest(ctx, worker, req), postRequest(ctx, worker,
  // req, res), workerInt (INT or QUIT), workerAbort (heartbeat timeout), and
  // workerExit(ctx, worker) after the last connection, just before it exits.
  // Default: none.
  whenReady(ctx) {
    ctx.log(`serving with ${ctx.settings.workers} worker(s)`);
  },
  childExit(ctx, worker) {
    if (worker.signal) ctx.log(`worker ${worker.pid} was killed by ${worker.signal}`);
  },
});
