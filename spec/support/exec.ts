// Run a short-lived command (the CLI, a shell script, logrotate) to completion.
import { spawn, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CLI, ROOT } from './harness.js';

export interface Done {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export function exec(file: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Done> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `tsgund ARGS...` to completion. */
export const cli = (args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<Done> =>
  exec(process.execPath, [CLI, ...args], { ...opts, env: { ...process.env, TSGUND_CMD_ARGS: '', ...opts.env } });

/** The absolute path of an executable found in PATH (plus the sbin directories), or null. */
export function which(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}
