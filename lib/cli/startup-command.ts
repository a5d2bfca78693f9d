import type { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidName, registeredName, runDirProblem } from '../control/run-dir.js';
import { ConfigError, errnoOf } from '../errors.js';
import { randomHex } from '../random-hex.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const {
  closeSync,
  constants,
  fchmodSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} = process.getBuiltinModule('node:fs');

interface StartupFlags {
  name?: string;
  user?: string;
  group?: string;
  config?: string;
  root: string;
}

/** What `startup` writes: the files and the commands that enable them. */
interface Boot {
  files: Array<{ path: string; text: string; mode: number }>;
  enable: string[];
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/** The `tsgund start` arguments every boot file runs, and the name. */
function startArgs(app: string, f: StartupFlags): { name: string; args: string[] } {
  const name = f.name ?? registeredName('tsgund', app);
  if (!isValidName(name)) throw new ConfigError(`startup: name '${name}' is not a plain file name; give -n NAME`);
  const args = [resolve(app), '-n', name];
  if (f.config) args.push('-c', resolve(f.config));
  if (f.user) args.push('-u', f.user);
  if (f.group) args.push('-g', f.group);
  return { name, args };
}

function systemdUnit(app: string, f: StartupFlags): Boot {
  const { name, args } = startArgs(app, f);
  const cli = [process.execPath, realpathSync(process.argv[1]!)];
  const pidfile = `/run/tsgund/${name}.pid`;
  const text = `# Written by \`tsgund startup systemd\`: the master runs as root, its workers as ${f.user ?? 'root (give -u USER)'}.
[Unit]
Description=tsgund: ${name}
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=all
WorkingDirectory=${process.cwd()}
RuntimeDirectory=tsgund
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
ExecStart=${[...cli, 'start', ...args, '-p', pidfile, '--error-logfile', '-'].map(quote).join(' ')}
# waits for the new generation: systemctl reload fails (and says why) when it does not boot
ExecReload=${[...cli, 'reload', '-p', pidfile, '--timeout', '55'].map(quote).join(' ')}
KillMode=mixed
TimeoutStartSec=60
TimeoutStopSec=45
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
`;
  const unit = `tsgund-${name}.service`;
  return {
    files: [{ path: join(f.root, 'etc/systemd/system', unit), text, mode: 0o644 }],
    enable: ['systemctl daemon-reload', `systemctl enable --now ${unit}`],
  };
}

function initdScript(app: string, f: StartupFlags): Boot {
  const { name, args } = startArgs(app, f);
  const service = `tsgund-${name}`;
  const defaults = join(f.root, 'etc/default', service);
  const script = readFileSync(join(ROOT, 'scripts/init.d/tsgund'), 'utf8')
    .replace(/^NAME=tsgund$/m, `NAME=${service}`)
    .replaceAll(':-/etc/default/tsgund}', () => `:-${defaults}}`)
    .replace(/^# Provides: +tsgund$/m, `# Provides:          ${service}`);
  const text = [
    '# Written by `tsgund startup initd`',
    `APP_DIR=${quote(process.cwd())}`,
    `PIDFILE=${quote(join(f.root, 'run/tsgund', `${name}.pid`))}`,
    `TSGUND=${quote(realpathSync(process.argv[1]!))}`,
    `NODE=${quote(process.execPath)}`,
    `EXTRA_ARGS=${quote([...args, '--error-logfile', join(f.root, 'var/log/tsgund', `${name}.log`)].join(' '))}`,
    '',
  ].join('\n');
  return {
    files: [
      { path: join(f.root, 'etc/init.d', service), text: script, mode: 0o755 },
      { path: defaults, text, mode: 0o644 },
    ],
    enable: [
      `mkdir -p ${join(f.root, 'var/log/tsgund')}`,
      `update-rc.d ${service} defaults`,
      `service ${service} start`,
    ],
  };
}

/**
 * Write `text` at `path` as boot files are written as root: the directory
 * must be root's (or ours) and writable by no one else, the file is created
 * under a random name with O_EXCL|O_NOFOLLOW, fchmod'ed, then renamed into place.
 */
function writeSafely(path: string, text: string, mode: number): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const problem = runDirProblem(dir);
  if (problem) throw new ConfigError(`startup: will not write into ${dir}: ${problem}`);
  const tmp = join(dir, `.tsgund-startup.${randomHex(8)}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, text);
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw new ConfigError(`startup: cannot write ${path}: ${errnoOf(err)}`);
  } finally {
    closeSync(fd);
  }
}

/** `tsgund startup [systemd|initd] APP`: the boot file for the app, as `pm2 startup` writes one. */
export function registerStartup(program: Command): void {
  program
    .command('startup')
    .description(
      'write the systemd unit (or init.d script) that starts APP at boot, and print how to enable it (as pm2 startup)',
    )
    .argument('<kind>', 'systemd or initd')
    .argument('<app>', 'module[:export] to serve')
    .option('-n, --name <name>', 'the name (default: the app file name)')
    .option('-u, --user <user>', 'run the workers as this user (the master stays root)')
    .option('-g, --group <group>', 'run the workers as this group')
    .option('-c, --config <file>', 'the config file')
    .option('--root <dir>', 'write under this directory instead of / (to inspect or package the files)', '/')
    .action((kind: string, app: string, f: StartupFlags) => {
      if (kind !== 'systemd' && kind !== 'initd') {
        throw new ConfigError(`startup: kind is '${kind}', expected systemd or initd`);
      }
      const boot = kind === 'systemd' ? systemdUnit(app, f) : initdScript(app, f);
      for (const { path, text, mode } of boot.files) {
        writeSafely(path, text, mode);
        process.stdout.write(`wrote ${path}\n`);
      }
      process.stdout.write(`enable it with:\n${boot.enable.map((c) => `  ${c}\n`).join('')}`);
    });
}
