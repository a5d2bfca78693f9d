// Every field of a PM2 ecosystem app, and what tsgund does with it: mapped
// (to a setting, or to nothing because tsgund already behaves that way),
// warned (dropped with a warning at start) or refused (the start fails: the
// app would not run as its file says). docs/pm2-fields.md is generated from
// this table, and a test holds it to the schema of the pinned pm2 package.

export type Pm2Verdict = 'mapped' | 'warned' | 'refused';

export interface Pm2Field {
  /** The field as PM2's schema names it (`^env_\S*$` for the env_NAME family). */
  field: string;
  verdict: Pm2Verdict;
  /** What tsgund does with it, in a sentence fragment. */
  tsgund: string;
}

const mapped = (field: string, tsgund: string): Pm2Field => ({ field, verdict: 'mapped', tsgund });
const warned = (field: string, tsgund: string): Pm2Field => ({ field, verdict: 'warned', tsgund });
const refused = (field: string, tsgund: string): Pm2Field => ({ field, verdict: 'refused', tsgund });

const PM2_IO = 'PM2.io monitoring: no equivalent; use statsBind (Prometheus) and `tsgund status`';

export const PM2_FIELDS: readonly Pm2Field[] = [
  mapped(
    'script',
    "the app module (APP); `script: 'npm', args: 'start'` serves the FILE of a `node FILE` start script",
  ),
  mapped('name', '`name`: the process title and the name `tsgund ls`, `tsgund reload NAME` use'),
  warned('name_prefix', 'dropped: give the full `name`'),
  warned('filter_env', 'dropped: workers get the environment of the master plus `env`'),
  warned('namespace', 'dropped: `tsgund ls` lists by name only'),
  warned('install_url', 'dropped'),
  mapped('cwd', '`chdir`; `script` and the log files are relative to it'),
  warned('args', "dropped: the app's argv is not set; pass settings through `env`"),
  refused('exec_interpreter', 'anything but `node` is refused (tsgund forks Node workers); `node` is accepted'),
  mapped('interpreter', 'another spelling of `exec_interpreter`'),
  mapped('node_args', "`NODE_OPTIONS` in the workers' environment"),
  mapped('interpreter_args', 'another spelling of `node_args`'),
  mapped('out_file', "`errorlog` with `captureOutput`: the app's stdout and stderr go to this file"),
  mapped(
    'error_file',
    "`errorlog` with `captureOutput`: tsgund's lines and the app's stderr (and stdout) go to this file",
  ),
  mapped('log_file', '`errorlog` with `captureOutput`, when neither `out_file` nor `error_file` is given'),
  warned('disable_logs', 'dropped: set `errorlog` to /dev/null in a tsgund config instead'),
  mapped('log_type', '`logFormat`: `json` writes JSON lines'),
  warned('log_date_format', 'dropped: every line starts with the timestamp in `[YYYY-MM-DD HH:MM:SS +ZZZZ]` form'),
  mapped('time', 'nothing to do: every log line is timestamped'),
  mapped(
    'env',
    "`rawEnv`: the workers' environment; `PORT` and `HOST` also give the default `bind` (with no port, nothing is bound: a background app, ready once loaded)",
  ),
  mapped('^env_\\S*$', '`env_NAME` over `env` with `--env NAME`, as PM2 does'),
  mapped('max_memory_restart', '`maxMemory` (300M, 1G …): a worker above it is replaced gracefully'),
  mapped('pid_file', '`pidfile`'),
  warned('restart_delay', 'dropped: crashed workers come back with exponential backoff (100 ms doubling, 10 s cap)'),
  warned('exp_backoff_restart_delay', 'dropped: the backoff is built in (100 ms doubling, 10 s cap)'),
  warned('source_map_support', 'dropped: add `--enable-source-maps` to `node_args`'),
  mapped('disable_source_map_support', 'nothing to do: source maps are off unless `node_args` enables them'),
  mapped('wait_ready', "`waitReady`: a worker is ready once it calls `process.send('ready')`"),
  mapped('instances', '`workers`: a number, `max` or 0 (one per CPU), -1 (all CPUs but one)'),
  mapped('kill_timeout', '`gracefulTimeout` (milliseconds become seconds)'),
  mapped(
    'kill_signal',
    "`killSignal`: the master sends TERM; once a worker stops accepting, the app's own handlers of this signal run",
  ),
  warned('shutdown_with_message', "dropped: workers get TERM (and the app's `kill_signal` handlers), not a message"),
  mapped('listen_timeout', '`bootTimeout` (milliseconds become seconds)'),
  warned('cron_restart', 'dropped: run `tsgund reload NAME` from cron or a systemd timer'),
  mapped('merge_logs', "nothing to do: every worker writes to the app's one log"),
  mapped('combine_logs', 'another spelling of `merge_logs`'),
  mapped('vizion', 'nothing to do: tsgund keeps no version-control metadata'),
  mapped('autostart', '`autostart: false`: `tsgund start FILE` skips the app (`--only NAME` starts it)'),
  mapped('autorestart', 'nothing to do when true; false is warned: workers that die are always replaced'),
  warned('stop_exit_codes', 'dropped: workers that die are always replaced'),
  warned('watch_delay', 'dropped: reloads on file changes are debounced by tsgund'),
  mapped('watch', '`reload` (with a list of paths: `reloadExtraFiles`)'),
  warned('ignore_watch', 'dropped: only the app and `reloadExtraFiles` are watched'),
  warned('watch_options', 'dropped'),
  warned('min_uptime', 'dropped: a worker that dies within 1 s of its start counts as a crash (backoff)'),
  warned('max_restarts', 'dropped: crashing workers are retried with backoff, never given up on'),
  warned('execute_command', 'dropped'),
  mapped('exec_mode', 'nothing to do: tsgund always runs a master and cluster workers (`fork` included)'),
  warned('force', 'dropped: a name that runs already is refused'),
  warned('append_env_to_name', 'dropped'),
  warned('post_update', 'dropped'),
  warned('trace', PM2_IO),
  warned('disable_trace', PM2_IO),
  warned('v8', PM2_IO),
  warned('event_loop_inspector', PM2_IO),
  warned('deep_monitoring', PM2_IO),
  warned('increment_var', 'dropped: workers do not get an incremented variable'),
  warned('instance_var', 'dropped: the variable is always NODE_APP_INSTANCE (0 to N-1 in the workers)'),
  warned('pmx', PM2_IO),
  warned('automation', PM2_IO),
  mapped('treekill', "nothing to do: each worker's process group is cleaned up after it exits"),
  mapped('port', 'the default `bind` (0.0.0.0:PORT), as `env.PORT`'),
  warned('username', PM2_IO),
  mapped('uid', '`user`: the workers run as this user'),
  mapped('user', 'another spelling of `uid`'),
  mapped('gid', '`group`'),
  mapped('windowsHide', 'nothing to do: tsgund runs on Linux'),
  warned('kill_retry_time', 'dropped: stragglers get SIGKILL after `gracefulTimeout`'),
  warned('write', 'dropped'),
  warned('io', PM2_IO),
];

const BY_FIELD = new Map(PM2_FIELDS.map((f) => [f.field, f]));

/** The row of an ecosystem field (`env_production` finds the `^env_\S*$` row); undefined: not a PM2 field. */
export function pm2Field(key: string): Pm2Field | undefined {
  return BY_FIELD.get(key) ?? (key.startsWith('env_') ? BY_FIELD.get('^env_\\S*$') : undefined);
}

const VERDICT_TEXT: Record<Pm2Verdict, string> = {
  mapped: 'mapped',
  warned: 'warned, ignored',
  refused: 'refused',
};

/** docs/pm2-fields.md, generated from the table (npm run docs:pm2-fields). */
export function pm2FieldsMarkdown(pm2Version: string): string {
  const rows = PM2_FIELDS.map(
    (f) => `| \`${f.field}\` | ${VERDICT_TEXT[f.verdict]} | ${f.tsgund.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# PM2 ecosystem fields in tsgund',
    '',
    '<!-- Generated from lib/cli/pm2-fields.ts by `npm run docs:pm2-fields`: edit the table there, not this file. -->',
    '',
    `Every field of an app in a PM2 ecosystem file (the schema of pm2 ${pm2Version}, and the`,
    'spellings PM2 accepts beside it), and what `tsgund start ecosystem.config.js` does with it:',
    '',
    '- **mapped**: becomes a tsgund setting, or needs nothing because tsgund already behaves so;',
    '- **warned, ignored**: dropped, with one warning line at start naming the field;',
    '- **refused**: the start fails with a one-line error, as the app could not run as the file says.',
    '',
    'A field that is not in this table is warned about as not a PM2 field. See',
    '[migrating-from-pm2.md](migrating-from-pm2.md) for the commands.',
    '',
    '| field | verdict | what tsgund does |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
