// Load whose every request is numbered, so that a test can check that each
// answered request shows up in the access log exactly once.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { waitFor } from './harness.js';
import { PACE_MS, pause } from './load.js';

/** An access-log line (default format) of a NumberedRequests request; group 1 is its number. */
export const ACCESS_LINE =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/\?n=(\d+) HTTP\/1\.1" 200 \d+ "-" "-"$/;

export const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

/** Lines of a log file; a file must end with a complete line. */
export function linesOf(file: string): string[] {
  const text = read(file);
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends mid-line`);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/**
 * Which request numbers the access-log `files` hold twice, miss (answered
 * 200 but not logged) or hold without an answer; asserts every file has lines
 * and every line is whole and well-formed.
 */
export function accessLogAccounting(files: string[], ok: Set<number>) {
  const seen = new Map<number, number>();
  for (const file of files) {
    const lines = linesOf(file);
    assert.ok(lines.length > 0, `${file} has lines`);
    for (const line of lines) {
      const m = ACCESS_LINE.exec(line);
      assert.ok(m, `torn or malformed line in ${file}: ${JSON.stringify(line)}`);
      seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
    }
  }
  return {
    twice: [...seen].filter(([, c]) => c > 1).map(([n]) => n),
    missing: [...ok].filter((n) => !seen.has(n)),
    unknown: [...seen.keys()].filter((n) => !ok.has(n)),
  };
}

/** Request `/?n=<i>` with a fresh i each time from several loops until stopped; remembers each i answered 200. */
export class NumberedRequests {
  readonly ok = new Set<number>();
  readonly failures: string[] = [];
  private next = 0;
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  constructor(url: string) {
    // half reuse keep-alive connections, half open one per request
    this.loops = Array.from({ length: 8 }, (_, i) => this.loop(url, i % 2 ? { agent: this.agent } : { agent: false }));
  }

  private async loop(url: string, opts: http.RequestOptions): Promise<void> {
    while (this.running) {
      await pause(PACE_MS);
      const n = this.next++;
      await new Promise<void>((done) => {
        const req = http.get(`${url}/?n=${n}`, opts, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) this.ok.add(n);
            else this.failures.push(`${n}: status ${res.statusCode}`);
            done();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          this.failures.push(`${n}: ${e.code ?? e.message}`);
          setTimeout(done, 10);
        });
      });
    }
  }

  async flowing(more: number): Promise<void> {
    const target = this.ok.size + more;
    await waitFor(() => this.ok.size >= target, `${more} more requests`);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}
