import http from 'node:http';

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
  pids: Set<string>;
}

/**
 * A small load generator for tests: `keepAlive` loops reuse connections
 * through a keep-alive agent, `fresh` loops open a new connection for every
 * request. Any non-200 answer or socket error counts as a failure.
 */
const active = new Set<Load>();

/**
 * The pause of every loop of a test's load between two requests. A test needs
 * traffic flowing through every transition, not the most the machine can
 * answer: an unpaced load takes both cores and slows every test beside it.
 * Eight loops paced at 4 ms give some 1,500 requests a second here.
 */
export const PACE_MS = 4;

/** Wait `ms` (a load loop's pace, a dead server's back-off). */
export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stop every load still running (for after() hooks: a failed test may not have). */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...active].map((l) => l.stop()));
}

export class Load {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly result: LoadResult = { ok: 0, failed: 0, errors: [], pids: new Set() };
  private readonly agent: http.Agent;

  constructor(url: string, opts: { keepAlive?: number; fresh?: number; path?: string } = {}) {
    active.add(this);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.keepAlive ?? 1 });
    const target = url + (opts.path ?? '/pid');
    for (let i = 0; i < (opts.keepAlive ?? 4); i++) this.loops.push(this.loop(target, { agent: this.agent }));
    for (let i = 0; i < (opts.fresh ?? 2); i++)
      this.loops.push(this.loop(target, { agent: false, headers: { connection: 'close' } }));
  }

  get ok(): number {
    return this.result.ok;
  }

  /** Pids of the workers that answered so far (the app must answer with its pid). */
  pidsSeen(): number[] {
    return [...this.result.pids].map(Number);
  }

  private async loop(target: string, opts: http.RequestOptions): Promise<void> {
    while (this.running) {
      await pause(PACE_MS);
      await new Promise<void>((done) => {
        const req = http.get(target, opts, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => {
            if (res.statusCode === 200) {
              this.result.ok++;
              this.result.pids.add(body.trim());
            } else this.fail(`status ${res.statusCode}`);
            done();
          });
          res.on('error', (e) => {
            this.fail(e.message);
            done();
          });
        });
        // pause after an error so a dead server does not make this loop spin
        req.on('error', (e: NodeJS.ErrnoException) => {
          this.fail(e.code ?? e.message);
          setTimeout(done, 10);
        });
      });
    }
  }

  private fail(why: string): void {
    this.result.failed++;
    if (this.result.errors.length < 20) this.result.errors.push(why);
  }

  /** Wait until `n` more requests have succeeded (the load is flowing). */
  async flowing(n = 50, timeoutMs = 10_000): Promise<void> {
    const target = this.result.ok + n;
    const until = Date.now() + timeoutMs;
    while (this.result.ok < target) {
      if (Date.now() > until)
        throw new Error(`load not flowing: ${JSON.stringify({ ...this.result, pids: [...this.result.pids] })}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<LoadResult> {
    this.running = false;
    active.delete(this);
    await Promise.all(this.loops);
    this.agent.destroy();
    return this.result;
  }
}
