// A load generator for the chaos suite that remembers every request: each one
// carries a unique id in its query string (/r?id=N&ms=M) so that it can be found
// in the access log, and each failure keeps what is known about the worker it
// was on, so that failures caused by a SIGKILLed worker can be told apart from
// real ones. The app (CHAOS_APP) sends its headers, with X-Pid and X-Version
// (its CHAOS_VERSION environment variable), before it waits `ms` and ends the
// body.
import http from 'node:http';
import type { Socket } from 'node:net';
import { PACE_MS, pause } from './load.js';

/** The app the chaos suite serves: headers (with X-Pid, X-Version) at once, the body after ?ms=. */
export const CHAOS_APP = `
export default function chaosApp(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const ms = Number(url.searchParams.get('ms') ?? 0);
  res.writeHead(200, { 'content-type': 'text/plain', 'x-pid': String(process.pid), 'x-version': process.env.CHAOS_VERSION ?? '' });
  if (!(ms > 0)) return res.end(process.pid + '\\n');
  res.flushHeaders();
  const timer = setTimeout(() => res.end(process.pid + '\\n'), ms);
  res.on('close', () => clearTimeout(timer));
}
`;

export type LoopKind = 'keep-alive' | 'fresh';

export interface Failure {
  id: number;
  kind: LoopKind;
  /** performance.now() when the request was started and when it failed */
  start: number;
  end: number;
  /** error code (ECONNRESET, ...) or "HTTP 503" */
  why: string;
  /** pid in the response headers, when they arrived before the failure */
  headerPid: number | null;
  /** for a reused keep-alive connection: the pid that answered on it last */
  socketPid: number | null;
}

export interface TrackedLoadOptions {
  /** keep-alive loops, sharing one agent with as many sockets */
  keepAlive?: number;
  /** new-connection-per-request loops */
  fresh?: number;
  /** every odd-numbered loop asks for a body delayed this long (requests in flight) */
  slowMs?: number;
}

export class TrackedLoad {
  /** By request id: the pid that answered (> 0), 0 while in flight, -1 when it failed. */
  readonly outcome: number[] = [];
  readonly failures: Failure[] = [];
  /** X-Version of the answers since the last markVersions(), with how many */
  versions = new Map<string, number>();
  ok = 0;
  private running = true;
  private seq = 0;
  private readonly loops: Promise<void>[] = [];
  private readonly agent: http.Agent;
  private readonly lastPidOn = new WeakMap<Socket, number>();

  constructor(
    private readonly url: string,
    opts: TrackedLoadOptions = {},
  ) {
    const keepAlive = opts.keepAlive ?? 6;
    const slowMs = opts.slowMs ?? 40;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: keepAlive });
    let n = 0;
    for (let i = 0; i < keepAlive; i++) this.loops.push(this.loop('keep-alive', n++ % 2 ? slowMs : 0));
    for (let i = 0; i < (opts.fresh ?? 3); i++) this.loops.push(this.loop('fresh', n++ % 2 ? slowMs : 0));
  }

  get requests(): number {
    return this.seq;
  }

  private async loop(kind: LoopKind, ms: number): Promise<void> {
    while (this.running) {
      await pause(PACE_MS);
      const id = this.seq++;
      this.outcome[id] = 0;
      const failed = await this.one(id, kind, ms);
      if (failed) await new Promise((r) => setTimeout(r, 10)); // a dead server must not make us spin
    }
  }

  /** One request; resolves true if it failed. */
  private one(id: number, kind: LoopKind, ms: number): Promise<boolean> {
    const start = performance.now();
    let socket: Socket | null = null;
    let socketPid: number | null = null;
    let headerPid: number | null = null;
    return new Promise((resolve) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        this.outcome[id] = -1;
        this.failures.push({ id, kind, start, end: performance.now(), why, headerPid, socketPid });
        resolve(true);
      };
      const opts: http.RequestOptions =
        kind === 'keep-alive' ? { agent: this.agent } : { agent: false, headers: { connection: 'close' } };
      const req = http.get(`${this.url}/r?id=${id}&ms=${ms}`, { ...opts, timeout: 20_000 }, (res) => {
        headerPid = Number(res.headers['x-pid']) || null;
        if (socket && headerPid) this.lastPidOn.set(socket, headerPid);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
        res.on('aborted', () => fail('aborted'));
        res.on('end', () => {
          if (settled) return;
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
          if (Number(body) !== headerPid) return fail(`body ${JSON.stringify(body)} does not match X-Pid ${headerPid}`);
          settled = true;
          this.outcome[id] = headerPid!;
          this.ok++;
          const version = String(res.headers['x-version'] ?? '');
          this.versions.set(version, (this.versions.get(version) ?? 0) + 1);
          resolve(false);
        });
      });
      req.on('socket', (s: Socket) => {
        socket = s;
        socketPid = this.lastPidOn.get(s) ?? null;
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
    });
  }

  /** Wait until `n` more requests have succeeded (the load is flowing). */
  async flowing(n = 30, timeoutMs = 15_000): Promise<void> {
    const target = this.ok + n;
    const until = Date.now() + timeoutMs;
    while (this.ok < target) {
      if (Date.now() > until) {
        const recent = this.failures
          .slice(-5)
          .map((f) => f.why)
          .join(', ');
        throw new Error(`load not flowing: ${this.ok} ok, ${this.failures.length} failed (last: ${recent || 'none'})`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Ids of the requests sent and not finished yet. */
  inFlight(): number[] {
    const ids: number[] = [];
    this.outcome.forEach((o, id) => {
      if (o === 0) ids.push(id);
    });
    return ids;
  }

  /** Start counting X-Version afresh. */
  markVersions(): void {
    this.versions = new Map();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}
