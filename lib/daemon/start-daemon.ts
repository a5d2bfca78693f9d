import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';

const INTERMEDIATE = fileURLToPath(new URL('./intermediate.js', import.meta.url));

/**
 * Start a daemonized master with the same arguments and wait for its verdict,
 * like unicorn's ready pipe: 0 once it serves, its exit code and message if not.
 */
export function startDaemon(args: string[]): Promise<{ code: number; message: string }> {
  const child = spawn(process.execPath, [...process.execArgv, INTERMEDIATE, ...args], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  const pipe = child.stdio[3] as Readable;
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      const line = text.split('\n')[0] ?? '';
      const ok = /^READY (\d+)/.exec(line);
      const failed = /^ERROR (\d+) (.*)$/.exec(line);
      if (ok) resolve({ code: 0, message: `tsgund: daemon started (master pid ${ok[1]})` });
      else if (failed) resolve({ code: Number(failed[1]), message: failed[2]! });
      else resolve({ code: 1, message: 'the daemon exited before it was ready (see the error log)' });
      pipe.destroy();
    };
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) finish();
    });
    pipe.on('end', finish);
    pipe.on('error', finish);
  });
}
