import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { decodeReport } from './ready-pipe.js';

const INTERMEDIATE = fileURLToPath(new URL('./intermediate.js', import.meta.url));
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Start a daemonized master with the same arguments and wait for its verdict,
 * like unicorn's ready pipe: 0 once it serves, its exit code and message if not.
 * INT or TERM meanwhile shuts our end of the pipe: the daemon reads that as
 * "stop", aborts its start and exits, and the end of the stream tells us it
 * has gone (with its workers and pidfile), so nothing is left behind.
 */
export function startDaemon(args: string[]): Promise<{ code: number; message: string }> {
  const child = spawn(process.execPath, [...process.execArgv, INTERMEDIATE, ...args], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  const pipe = child.stdio[3] as Duplex;
  return new Promise((resolve) => {
    let text = '';
    let interrupted: NodeJS.Signals | null = null;
    let done = false;
    const interrupt = (sig: NodeJS.Signals) => {
      interrupted ??= sig;
      pipe.end();
    };
    for (const sig of STOP_SIGNALS) process.on(sig, interrupt);
    const finish = () => {
      if (done) return;
      done = true;
      for (const sig of STOP_SIGNALS) process.off(sig, interrupt);
      pipe.destroy();
      const line = text.split('\n')[0] ?? '';
      const ok = /^READY (\d+)/.exec(line);
      const failed = /^ERROR (\d+) (.*)$/.exec(line);
      if (interrupted)
        resolve({ code: 1, message: `start interrupted by ${interrupted}: the daemon stopped before it was ready` });
      else if (ok) resolve({ code: 0, message: `tsgund: daemon started (master pid ${ok[1]})` });
      else if (failed) resolve({ code: Number(failed[1]), message: decodeReport(failed[2]!) });
      else resolve({ code: 1, message: 'the daemon exited before it was ready (see the error log)' });
    };
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
      // once interrupted, only the end of the stream says the daemon is gone
      if (!interrupted && text.includes('\n')) finish();
    });
    pipe.on('end', finish);
    pipe.on('error', finish);
  });
}
