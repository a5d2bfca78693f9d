import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { ConfigError, errnoOf as errno } from '../errors.js';
import { freeSocketPath } from '../listeners/unix-path.js';
import type { ErrorLog } from '../log/error-line.js';
import type { ControlReply } from './protocol.js';
import type { AppMetricsStatus, StatusSnapshot } from '../protocol/status.js';

// Built-ins without their ES module facade, which costs start-up (see node-http.ts).
const { chmodSync, linkSync, lstatSync, mkdtempSync, renameSync, rmSync, statSync } =
  process.getBuiltinModule('node:fs');

/** The app's own metrics, collected from the workers when asked for (null: not collected). */
export type AppMetricsSource = () => Promise<AppMetricsStatus | null>;

const MAX_LINE_BYTES = 4096;
const IDLE_MS = 10_000;

export interface ControlServer {
  /** Stop answering and remove the socket file, unless another process has put its own there. */
  close(): void;
  /** Rename the socket file (the upgraded master drops its ".2" when the old master exits). */
  moveTo(path: string): void;
}

function fileIdentity(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
}

/** `nobody (uid 65534)`: the name comes through NSS when getent knows the uid. */
function describeUser(uid: number): string {
  if (uid < 0) return 'another user';
  const found = spawnSync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 2000 });
  const name = found.status === 0 ? found.stdout.split(':')[0] : '';
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

function ownerOf(path: string): number {
  try {
    return lstatSync(path).uid;
  } catch {
    return -1; // gone again: whoever it was
  }
}

/** The one-line refusal for a control socket path that another user holds. */
function squatted(path: string, uid: number): ConfigError {
  const me = process.geteuid?.() ?? uid;
  return new ConfigError(
    `control socket ${path} already exists and belongs to ${describeUser(uid)}, not to ${describeUser(me)}: ` +
      'tsgund neither removes nor uses it; find out why it is there and remove it, or keep the pidfile in a ' +
      "directory only root (or the master's user) can write, such as /run/tsgund/ (or set controlSocket)",
  );
}

/**
 * Remove a socket file left by a master that died; refuse to touch anything
 * else. In a directory others can write, anything there may have been planted:
 * only a file of our own user is ever removed, and lstat never follows a link.
 */
async function clearStale(path: string): Promise<void> {
  let owner: number;
  try {
    owner = lstatSync(path).uid;
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw new ConfigError(`control socket ${path}: ${errno(err)}`);
  }
  if (owner !== process.geteuid?.()) throw squatted(path, owner);
  const busy = await freeSocketPath(path);
  if (busy === 'ENOTSOCK')
    throw new ConfigError(`control socket ${path} exists and is not a socket; remove it or set controlSocket`);
  if (busy === 'EADDRINUSE') throw new ConfigError(`control socket ${path} is in use by another running process`);
  if (busy) throw new ConfigError(`control socket ${path}: ${busy}`);
}

function listen(server: net.Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function reply(
  line: string,
  snapshot: () => StatusSnapshot,
  appMetrics: AppMetricsSource,
): Promise<ControlReply> {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return { ok: false, error: 'a request is one JSON object per line, like {"cmd":"status"}' };
  }
  const { cmd, appMetrics: withApp } = (request ?? {}) as { cmd?: unknown; appMetrics?: unknown };
  if (cmd !== 'status') return { ok: false, error: `unknown command ${JSON.stringify(cmd)} (known: status)` };
  // {"cmd":"status","appMetrics":true} (status --json) also asks the workers for the app's metrics
  const app = withApp === true ? await appMetrics() : null;
  return { ok: true, status: app ? { ...snapshot(), appMetrics: app } : snapshot() };
}

function serve(sock: net.Socket, snapshot: () => StatusSnapshot, log: ErrorLog, appMetrics: AppMetricsSource): void {
  let buffered = '';
  // replies go out in the order of the requests, even when one waits for the workers
  let replies = Promise.resolve();
  sock.setEncoding('utf8');
  sock.setTimeout(IDLE_MS, () => sock.destroy());
  sock.on('error', () => {});
  sock.on('data', (chunk: string) => {
    if (sock.writableEnded) return;
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      replies = replies
        .then(() => reply(line, snapshot, appMetrics))
        .then(
          (answer) => JSON.stringify(answer),
          (err: unknown) => {
            log.error('control socket: cannot answer a request', err);
            return JSON.stringify({ ok: false, error: 'internal error (see the error log)' });
          },
        )
        .then((text) => {
          if (!sock.writableEnded) sock.write(text + '\n');
        });
    }
    if (Buffer.byteLength(buffered) > MAX_LINE_BYTES) {
      sock.end(JSON.stringify({ ok: false, error: `request longer than ${MAX_LINE_BYTES} bytes` }) + '\n');
    }
  });
}

/** Listen at `path` through a private directory (see startControlServer); returns the socket file's identity. */
async function bindPrivately(server: net.Server, path: string): Promise<string> {
  let privateDir: string;
  try {
    privateDir = mkdtempSync(join(dirname(path), '.tsgund-ctl-'));
  } catch (err) {
    throw new ConfigError(`cannot create the control socket ${path}: ${errno(err)}`);
  }
  try {
    const bound = join(privateDir, 's');
    await listen(server, bound);
    chmodSync(bound, 0o600);
    // link, not rename: a file someone put at `path` since clearStale stays theirs and fails the start
    linkSync(bound, path);
    return fileIdentity(path);
  } catch (err) {
    server.close();
    if (errno(err) === 'EEXIST') throw squatted(path, ownerOf(path));
    throw new ConfigError(`cannot create the control socket ${path}: ${errno(err)}`);
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
}

/**
 * Answer `{"cmd":"status"}` on a unix socket that only the master's user (and
 * root) can connect to. Node cannot read the peer's credentials
 * (SO_PEERCRED), so access rests on the file mode: the socket is bound inside
 * a fresh 0700 directory, set to 0600 and only then renamed into place, so it
 * is never reachable with looser permissions and the umask stays untouched.
 * It is then linked into place, which fails rather than replace a file
 * another user put there.
 * Binding under a temporary name also means libuv's unlink-on-close hits that
 * name, not a socket another master may have put at `path` since.
 */
export async function startControlServer(
  path: string,
  snapshot: () => StatusSnapshot,
  log: ErrorLog,
  appMetrics: AppMetricsSource = () => Promise.resolve(null),
): Promise<ControlServer> {
  await clearStale(path);
  const connections = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    connections.add(sock);
    sock.on('close', () => connections.delete(sock));
    sock.unref();
    serve(sock, snapshot, log, appMetrics);
  });
  const identity = await bindPrivately(server, path);
  // the master's own timers decide when it exits, not this socket
  server.unref();
  log.info(`Control socket: ${path}`);

  let current = path;
  const ours = (): boolean => {
    try {
      return fileIdentity(current) === identity;
    } catch {
      return false;
    }
  };
  return {
    close() {
      for (const sock of connections) sock.destroy();
      server.close();
      if (ours()) rmSync(current, { force: true });
    },
    moveTo(next) {
      if (next === current || !ours()) return;
      const owner = ownerOf(next);
      // what another user put there stays; our own user's socket there was the old master's
      if (owner !== -1 && owner !== process.geteuid?.()) {
        log.error(squatted(next, owner).message);
        return;
      }
      try {
        if (owner === -1) {
          linkSync(current, next); // fails, rather than replace, if someone got there meanwhile
          rmSync(current, { force: true });
        } else renameSync(current, next);
        current = next;
      } catch (err) {
        log.error(`cannot move the control socket from ${current} to ${next}: ${errno(err)}`);
      }
    },
  };
}
