import net from 'node:net';
import { ConfigError } from '../errors.js';
import type { ControlReply } from './protocol.js';
import type { StatusSnapshot } from '../protocol/status.js';

function connectError(path: string, err: NodeJS.ErrnoException): ConfigError {
  switch (err.code) {
    case 'ENOENT':
      return new ConfigError(
        `control socket ${path} does not exist: is the master running, with a pidfile or --control-socket?`,
      );
    case 'ECONNREFUSED':
      return new ConfigError(`nothing answers on control socket ${path}: the master is not running (stale socket)`);
    case 'EACCES':
    case 'EPERM':
      return new ConfigError(`permission denied on control socket ${path}: run as the master's user or root`);
    default:
      return new ConfigError(`control socket ${path}: ${err.code ?? err.message}`);
  }
}

/** Ask the master listening on `path` for its status (with `appMetrics`, the app's metrics too). */
export function requestStatus(path: string, timeoutMs = 5000, appMetrics = false): Promise<StatusSnapshot> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let text = '';
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      fn();
    };
    sock.setTimeout(timeoutMs, () =>
      settle(() =>
        reject(new ConfigError(`the master did not answer on control socket ${path} within ${timeoutMs / 1000} s`)),
      ),
    );
    sock.on('connect', () =>
      sock.write(JSON.stringify(appMetrics ? { cmd: 'status', appMetrics } : { cmd: 'status' }) + '\n'),
    );
    sock.on('error', (err: NodeJS.ErrnoException) => settle(() => reject(connectError(path, err))));
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl === -1) return;
      settle(() => {
        try {
          const answer = JSON.parse(text.slice(0, nl)) as ControlReply;
          if (answer.ok) resolve(answer.status);
          else reject(new ConfigError(`the master refused the status request: ${answer.error}`));
        } catch {
          reject(new ConfigError(`control socket ${path} sent something that is not a status reply`));
        }
      });
    });
    sock.on('end', () =>
      settle(() => reject(new ConfigError(`the master closed control socket ${path} without answering`))),
    );
  });
}
