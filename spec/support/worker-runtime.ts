// A worker in-process: the real WorkerRuntime, boot and drain over an HTTP
// server on a loopback socket bound here (as the master would bind it and
// send it), with the messages to the master recorded, the exit recorded
// instead of taken, and TERM played by calling its handler. The app and the
// config file (for hooks) are small modules written to a temporary directory;
// they wait on gates the test opens (`globalThis.tsgundGates`).

import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { defaults } from '../../lib/config/resolve.js';
import type { Settings } from '../../lib/config/types.js';
import { bindListener } from '../../lib/listeners/handles.js';
import type { ErrorLog } from '../../lib/log/error-line.js';
import type { WorkerToMaster } from '../../lib/protocol/messages.js';
import { boot } from '../../lib/worker/boot.js';
import { WorkerRuntime } from '../../lib/worker/runtime.js';
import { WorkerLogs } from '../../lib/worker/worker-logs.js';
import { tempDir, waitFor } from './harness.js';

/** A promise the app or a hook waits on, and whether something reached it. */
export interface Gate {
  reached: boolean;
  open(): void;
  wait(): Promise<void>;
}

type Gates = Record<string, Gate>;
const globals = globalThis as unknown as { tsgundGates?: Gates };

/** A gate named `name` for the app or the config file's hooks. */
export function gate(name: string): Gate {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  const g: Gate = {
    reached: false,
    open,
    wait: () => {
      g.reached = true;
      return opened;
    },
  };
  globals.tsgundGates = { ...globals.tsgundGates, [name]: g };
  return g;
}

// The app answers at once, or waits on the 'request' gate when one is set.
const APP = `export default async (req, res) => {
  const g = globalThis.tsgundGates?.request;
  if (g) await g.wait();
  res.end('ok');
};
`;

// postWorkerInit waits on the 'postWorkerInit' gate when one is set.
const CONFIG = `export async function postWorkerInit() {
  await globalThis.tsgundGates?.postWorkerInit?.wait();
}
`;

export class InProcessWorker {
  readonly sent: WorkerToMaster[] = [];
  readonly lines: string[] = [];
  readonly exits: number[] = [];
  readonly rt: WorkerRuntime;
  port = 0;
  booted: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    settings: Settings,
  ) {
    const log = Object.fromEntries(
      ['debug', 'info', 'warning', 'error', 'critical'].map((level) => [
        level,
        (m: string) => this.lines.push(`[${level.toUpperCase()}] ${m}`),
      ]),
    ) as unknown as ErrorLog;
    (log as unknown as { close(): Promise<void> }).close = async () => {};
    const spec = {
      settings,
      configPath: join(dir, 'tsgund.config.mjs'),
      generation: 1,
      maxRequests: settings.maxRequests,
      heartbeatMs: 1000,
      logFds: { errorlog: 2, accesslog: null },
    };
    this.rt = new WorkerRuntime(spec, new WorkerLogs(settings, spec.logFds, log), (msg) => this.sent.push(msg), {
      connected: () => true,
      exit: (code) => this.exits.push(code),
    });
  }

  /** A worker with `overrides` of its settings, booting on a fresh loopback socket. */
  static async boot(overrides: Partial<Settings> = {}): Promise<InProcessWorker> {
    const dir = tempDir('tsgund-worker-');
    writeFileSync(join(dir, 'app.mjs'), APP);
    writeFileSync(join(dir, 'tsgund.config.mjs'), CONFIG);
    const settings = { ...defaults(), app: join(dir, 'app.mjs'), bootTimeout: 30, ...overrides };
    const w = new InProcessWorker(dir, settings);
    const listener = await bindListener({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    w.port = listener.address.kind === 'tcp' ? listener.address.port : 0;
    const sockets = Promise.resolve({ handles: [listener.handle], labels: [listener.label] });
    w.booted = boot(w.rt, sockets, Promise.resolve(), () => {});
    return w;
  }

  /** The kinds of message sent to the master so far. */
  get kinds(): string[] {
    return this.sent.map((m) => m.type);
  }

  /** A GET on a fresh connection (or on `agent`'s): status, Connection header and body. */
  get(agent?: http.Agent): Promise<{ status: number; connection: string; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: this.port, path: '/', agent: agent ?? false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, connection: String(res.headers.connection), body }));
      });
      req.on('error', reject);
    });
  }

  /** Wait until the runtime took its exit, with what code. */
  async exited(): Promise<number> {
    await waitFor(
      () => this.exits.length > 0,
      () => `the worker to exit; it logged:\n${this.lines.join('\n')}`,
      5000,
    );
    return this.exits[0]!;
  }

  remove(): void {
    this.rt.served?.close();
    globals.tsgundGates = {};
    rmSync(this.dir, { recursive: true, force: true });
  }
}
