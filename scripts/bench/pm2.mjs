// A PM2 installation confined to one PM2_HOME (a temp dir, never ~/.pm2), for
// the benchmark scripts. Every pm2 command goes through run()/runAsync() with
// that PM2_HOME; kill() runs `pm2 kill` and then makes sure the God Daemon's
// process group (daemon + app processes) is gone. Note that any pm2 command,
// even `pm2 --version` or `pm2 kill`, starts a daemon if none is running.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './proc.mjs';

export class Pm2 {
  /** @param {string} bin pm2 executable  @param {string} home PM2_HOME  @param {string} cwd */
  constructor(bin, home, cwd) {
    this.bin = bin;
    this.home = home;
    this.cwd = cwd;
    this.lastDaemonPid = 0;
    /** set by kill(): from then on no pm2 command runs (it would start a new daemon) */
    this.closed = false;
    this.killing = null;
    /** pm2 CLI processes still running (runAsync) */
    this.running = new Set();
  }

  get available() {
    return fs.existsSync(this.bin);
  }

  env(extra = {}) {
    // `touch` present = not a first run: no banner and no "install" ping to pm2.io;
    // the daemon's daily version check is off too (it never fires in a bench run anyway).
    fs.mkdirSync(this.home, { recursive: true });
    fs.writeFileSync(path.join(this.home, 'touch'), String(Date.now()));
    return { ...process.env, PM2_HOME: this.home, PM2_DISABLE_VERSION_CHECK: 'true', ...extra };
  }

  /** Run a pm2 command to completion (blocking). */
  run(args, extraEnv = {}, timeoutMs = 60_000) {
    if (this.closed) return { status: null, output: `$ pm2 ${args.join(' ')}\nnot run: pm2 was killed already\n` };
    const r = spawnSync(this.bin, args, {
      cwd: this.cwd,
      env: this.env(extraEnv),
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    this.daemonPid();
    return {
      status: r.status,
      output: `$ pm2 ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error}\n` : ''}`,
    };
  }

  /** Run a pm2 command without blocking the event loop (a load generator may share it). */
  runAsync(args, extraEnv = {}, timeoutMs = 60_000, { evenIfClosed = false } = {}) {
    if (this.closed && !evenIfClosed)
      return Promise.resolve({ status: null, output: `$ pm2 ${args.join(' ')}\nnot run: pm2 was killed already\n` });
    return new Promise((resolve) => {
      const child = spawn(this.bin, args, {
        cwd: this.cwd,
        env: this.env(extraEnv),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.running.add(child);
      child.on('close', () => this.running.delete(child));
      let output = `$ pm2 ${args.join(' ')}\n`;
      child.stdout.setEncoding('utf8').on('data', (d) => (output += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => (output += `${e}\n`));
      child.on('close', (status) => {
        clearTimeout(timer);
        this.daemonPid();
        resolve({ status, output });
      });
    });
  }

  /** The God Daemon's pid from PM2_HOME/pm2.pid (remembered: pm2 kill removes the file), 0 if none. */
  daemonPid() {
    try {
      const pid = Number(fs.readFileSync(path.join(this.home, 'pm2.pid'), 'utf8'));
      if (pid > 0) this.lastDaemonPid = pid;
    } catch {
      // no daemon started (yet)
    }
    return this.lastDaemonPid;
  }

  alive() {
    const pid = this.daemonPid();
    return pid > 0 && processAlive(pid);
  }

  /** `pm2 kill` if a daemon was started here, then SIGKILL whatever is left of its process group. */
  kill() {
    // one kill at a time: concurrent callers (a finally block and a Ctrl-C handler) share it
    this.killing ??= this.#kill().finally(() => (this.killing = null));
    return this.killing;
  }

  async #kill() {
    this.closed = true;
    // a pm2 command still running (say a reload cut short by Ctrl-C) would start a
    // new daemon once the old one is gone: end those first
    await Promise.all(
      [...this.running].map(
        (child) =>
          new Promise((resolve) => {
            child.once('close', resolve);
            child.kill('SIGKILL');
          }),
      ),
    );
    for (let round = 0; round < 3; round++) {
      const pid = this.daemonPid();
      if (pid === 0 || !processAlive(-pid)) break;
      if (processAlive(pid)) await this.runAsync(['kill'], {}, 15_000, { evenIfClosed: true });
      for (const end = Date.now() + 3000; processAlive(-pid) && Date.now() < end; ) await sleep(50);
      if (processAlive(-pid)) {
        console.error(`[pm2] process group ${pid} still there after pm2 kill: SIGKILL`);
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {}
      }
      this.lastDaemonPid = 0; // daemonPid() re-reads pm2.pid: did anything start another one meanwhile?
    }
  }

  /** For process.on('exit'): synchronous. */
  killSync() {
    this.closed = true;
    for (const child of this.running) child.kill('SIGKILL');
    const pid = this.daemonPid();
    if (pid === 0) return;
    if (processAlive(pid))
      spawnSync(this.bin, ['kill'], { cwd: this.cwd, env: this.env(), stdio: 'ignore', timeout: 15_000 });
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
    this.lastDaemonPid = 0;
  }
}
