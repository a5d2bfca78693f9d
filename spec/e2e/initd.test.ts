import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CLI,
  FIXTURES,
  HELLO,
  ROOT,
  childrenOf,
  cleanup,
  freePort,
  isRunning,
  request,
  tempDir,
  track,
  waitFor,
} from '../support/harness.js';
import { exec, type Done } from '../support/exec.js';

const SCRIPT = join(ROOT, 'scripts/init.d/tsgund');
const NOBODY = 65534;
const dirs: string[] = [];
after(() => cleanup(dirs));

interface Service {
  dir: string;
  pidfile: string;
  errorLog: string;
  url: string;
  port: number;
  /** `bash scripts/init.d/tsgund ACTION` with this service's defaults file. */
  action(name: string): Promise<Done>;
  pid(): number;
}

/** A temp defaults file for the init script, serving `app` on a fresh port. */
async function service(
  opts: { app?: string; user?: string; tsgund?: string; node?: string; appDir?: string; workers?: number } = {},
): Promise<Service> {
  const dir = tempDir();
  dirs.push(dir);
  const port = await freePort();
  const run = join(dir, 'run');
  const pidfile = join(run, 'app.pid');
  const errorLog = join(run, 'error.log');
  const wrapper = join(dir, 'tsgund');
  writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`, { mode: 0o755 });
  const defaults = join(dir, 'defaults');
  writeFileSync(
    defaults,
    [
      `APP_DIR='${opts.appDir ?? ROOT}'`,
      `APP='${opts.app ?? HELLO}'`,
      `PIDFILE='${pidfile}'`,
      `TSGUND='${opts.tsgund ?? wrapper}'`,
      opts.user ? `USER=${opts.user}` : '',
      opts.node ? `NODE='${opts.node}'` : '',
      `EXTRA_ARGS="-w ${opts.workers ?? 2} -b 127.0.0.1:${port} --error-logfile ${errorLog} --graceful-timeout 5"`,
      'STOP_TIMEOUT=15',
    ].join('\n') + '\n',
  );
  const action = async (name: string) => {
    const done = await exec('bash', [SCRIPT, name], {
      env: { ...process.env, TSGUND_DEFAULTS: defaults },
      timeoutMs: 90_000,
    });
    const pid = readPid(pidfile);
    if (pid) track(pid);
    return done;
  };
  return { dir, pidfile, errorLog, port, url: `http://127.0.0.1:${port}`, action, pid: () => readPid(pidfile)! };
}

function readPid(file: string): number | null {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

function assertExit(done: Done, code: number, out?: RegExp): void {
  assert.equal(done.code, code, `exit ${done.code}, expected ${code}: ${done.stdout}${done.stderr}`);
  if (out) assert.match(done.stdout + done.stderr, out);
}

const refused = (port: number) =>
  new Promise<boolean>((res) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => {
      c.destroy();
      res(false);
    });
    c.on('error', (e: NodeJS.ErrnoException) => res(e.code === 'ECONNREFUSED'));
  });

const workerPid = async (url: string): Promise<number> => Number((await request(url + '/pid')).body);

describe('scripts/init.d/tsgund', () => {
  it('reload passes on the outcome: a broken release exits 5 with the reason, the old workers serve; reopen-logs', async () => {
    const appDir = tempDir();
    dirs.push(appDir);
    const app = join(appDir, 'app.js');
    writeFileSync(app, "module.exports = (req, res) => res.end('v1');\n");
    const svc = await service({ app, workers: 1 });
    assertExit(await svc.action('start'), 0, /started/);
    writeFileSync(app, "module.exports = (req, res) => res.end('v2');\nsyntax error(\n");
    assertExit(
      await svc.action('reload'),
      5,
      /reload of master \d+ failed, the running workers keep serving: .*SyntaxError/,
    );
    assert.equal((await request(svc.url + '/')).body, 'v1');
    writeFileSync(app, "module.exports = (req, res) => res.end('v2');\n");
    assertExit(await svc.action('reload'), 0, /reloaded master \d+: generation \d+ serving/);
    assert.equal((await request(svc.url + '/')).body, 'v2');
    assertExit(await svc.action('reopen-logs'), 0, /reopening the log files/);
    assertExit(await svc.action('stop'), 0, /stopped/);
  });

  it('start, status, reload, rotate, upgrade, stop', async () => {
    const svc = await service();
    assertExit(await svc.action('status'), 3, /not running/);
    assertExit(await svc.action('start'), 0, /started/);
    const master = svc.pid();
    assert.ok(isRunning(master));
    assert.notEqual(
      readFileSync(`/proc/${master}/stat`, 'utf8').split(') ')[1]!.split(' ')[1],
      String(process.pid),
      'daemonized',
    );
    assert.equal((await request(svc.url + '/')).status, 200);
    assert.ok(childrenOf(master).includes(await workerPid(svc.url)), 'answered by a worker of the master');
    assertExit(await svc.action('status'), 0, new RegExp(`running \\(pid ${master}\\)`));
    assertExit(await svc.action('start'), 0, /already running/);
    assert.equal(svc.pid(), master);

    const before = childrenOf(master);
    assertExit(await svc.action('reload'), 0);
    await waitFor(
      () => childrenOf(master).length === 2 && childrenOf(master).every((w) => !before.includes(w)),
      'a new generation after reload',
      20_000,
    );

    assertExit(await svc.action('rotate'), 0);
    await waitFor(
      () => readFileSync(svc.errorLog, 'utf8').includes(`[${master}] [INFO] Handling signal: USR1`),
      'USR1 in the error log',
    );

    assertExit(await svc.action('upgrade'), 0, /upgraded/);
    const upgraded = svc.pid();
    assert.notEqual(upgraded, master);
    assert.equal(isRunning(master), false, 'the old master is gone');
    assert.equal(existsSync(`${svc.pidfile}.2`), false);
    assert.equal((await request(svc.url + '/')).status, 200);
    assert.ok(childrenOf(upgraded).includes(await workerPid(svc.url)), 'answered by a worker of the new master');
    assertExit(await svc.action('status'), 0, new RegExp(`running \\(pid ${upgraded}\\)`));

    assertExit(await svc.action('stop'), 0, /stopped/);
    assert.equal(isRunning(upgraded), false);
    assert.equal(existsSync(svc.pidfile), false, 'pidfile removed');
    assert.ok(await refused(svc.port), 'port closed');
    assertExit(await svc.action('status'), 3);
    assertExit(await svc.action('stop'), 0, /not running/);
  });

  it('status 1 when the master died and left its pidfile; stop clears it; restart starts', async () => {
    const svc = await service();
    assertExit(await svc.action('start'), 0);
    const master = svc.pid();
    const workers = childrenOf(master);
    for (const pid of [master, ...workers]) process.kill(pid, 'SIGKILL');
    await waitFor(() => [master, ...workers].every((p) => !isRunning(p)), 'master and workers dead');
    assert.ok(existsSync(svc.pidfile));
    assertExit(await svc.action('status'), 1, /not running, but the pidfile/);
    assertExit(await svc.action('reload'), 7);
    assertExit(await svc.action('rotate'), 7);
    assertExit(await svc.action('upgrade'), 7);
    assertExit(await svc.action('stop'), 0, /stale pidfile/);
    assertExit(await svc.action('status'), 3);
    assertExit(await svc.action('restart'), 0, /started/);
    assert.equal((await request(svc.url + '/')).status, 200);
    assertExit(await svc.action('stop'), 0);
  });

  it('reports failures with LSB codes: bad app 1, no executable 5, unknown action 2', async () => {
    const broken = await service({ app: join(FIXTURES, 'throws-on-load.js') });
    const failed = await broken.action('start');
    assertExit(failed, 1, /start failed/);
    assert.match(failed.stderr, /tsgund: /, 'the reason is printed');
    assertExit(await broken.action('status'), 3);
    const missing = await service({ tsgund: '/nonexistent/tsgund' });
    assertExit(await missing.action('start'), 5, /executable not found/);
    assertExit(await missing.action('frobnicate'), 2, /Usage:/);
  });

  it('runs the master as USER when started as root', {
    skip: process.getuid?.() === 0 ? false : 'needs root',
  }, async () => {
    const svc = await service({ user: 'nobody', workers: 1 });
    chmodSync(svc.dir, 0o755);
    assertExit(await svc.action('start'), 0);
    const uid = (pid: number) => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    assert.equal(uid(svc.pid()), '65534');
    assert.equal((await request(svc.url + '/')).status, 200);
    assertExit(await svc.action('stop'), 0);
  });

  it('refuses to run as root a tsgund the app user could replace (LSB 6)', {
    skip: process.getuid?.() === 0 ? false : 'needs root',
  }, async () => {
    // the default: APP_DIR/node_modules/.bin/tsgund, planted by the app's user
    const appDir = join(tempDir(), 'app');
    dirs.push(dirname(appDir));
    mkdirSync(join(appDir, 'node_modules/.bin'), { recursive: true });
    const planted = join(appDir, 'node_modules/.bin/tsgund');
    const marker = join(dirname(appDir), 'ran');
    writeFileSync(planted, `#!/bin/sh\ntouch '${marker}'\n`, { mode: 0o755 });
    chownSync(appDir, NOBODY, NOBODY);
    chownSync(planted, NOBODY, NOBODY);
    const svc = await service({ appDir, tsgund: '' });
    const done = await svc.action('start');
    assertExit(done, 6);
    assert.equal(
      done.stderr,
      `tsgund: refusing to run ${planted} as root: ${appDir} is owned by uid ${NOBODY}, not root ` +
        `(set TSGUND or NODE in ${join(svc.dir, 'defaults')} to root-owned files)\n`,
    );
    assert.equal(existsSync(marker), false, 'nothing ran');

    // a root-owned one that is group-writable, and one reached through a symlink nobody owns
    const wrapper = join(svc.dir, 'tsgund');
    chmodSync(wrapper, 0o775);
    assertExit(await (await service({ tsgund: wrapper })).action('start'), 6, /has mode 775: writable by group/);
    chmodSync(wrapper, 0o755);
    const link = join(appDir, 'tsgund');
    symlinkSync(wrapper, link);
    assertExit(await (await service({ tsgund: link })).action('start'), 6, /is owned by uid 65534/);
    assert.equal(existsSync(svc.pidfile), false);
  });

  it('runs tsgund with NODE, not the node first in PATH', async (t) => {
    const node = realpathSync(process.execPath);
    if (process.getuid?.() !== 0 || !rootOnly(node) || !rootOnly(CLI)) {
      t.skip('needs root, and this node and checkout owned by root');
      return;
    }
    const svc = await service({ tsgund: CLI, node, workers: 1 });
    // not executable: only NODE can run it
    assert.equal(statSync(CLI).mode & 0o111, 0, `${CLI} is not executable`);
    assertExit(await svc.action('start'), 0, /started/);
    assert.equal(realpathSync(`/proc/${svc.pid()}/exe`), node);
    assert.equal((await request(svc.url + '/')).status, 200);
    assertExit(await svc.action('stop'), 0);
  });
});

/** Whether `file` and every directory above it are root's and not writable by group or others. */
function rootOnly(file: string): boolean {
  for (let p = file; ; p = dirname(p)) {
    const st = statSync(p);
    if (st.uid !== 0 || (st.mode & 0o022 && !(st.mode & 0o1000))) return false;
    if (p === '/') return true;
  }
}
