// Worker text as a type: only the escaper makes what the log takes. The
// `@ts-expect-error` lines are checked by tsc in the normal build (one that
// finds no error fails the build): raw worker text does not compile into a
// log call, and a worker's entry takes escaped text only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorLog } from '../../lib/log/error-line.js';
import type { MasterErrorLog } from '../../lib/log/error-log.js';
import { RawWorkerText, type WorkerText, escapeText, quote } from '../../lib/worker-text.js';

const FORGED = 'x\n[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\r\x1b[2J\x00\x07\u2028\\';

describe('worker text', () => {
  it('is escaped onto one line by the one escaper', () => {
    const raw = RawWorkerText.of(FORGED)!;
    const escaped = 'x\\x0a[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\\x0d\\x1b[2J\\x00\\x07\\u2028\\\\';
    assert.equal(raw.escaped(), escaped);
    assert.equal(escapeText(FORGED), escaped);
    // an interpolation or JSON never lets the raw text through
    assert.equal(`${raw}`, escaped);
    assert.equal(JSON.stringify({ raw }), JSON.stringify({ raw: escaped }));
    assert.deepEqual(raw.lines(10), [
      'x',
      '[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\\x0d\\x1b[2J\\x00\\x07\\u2028\\\\',
    ]);
    assert.equal(quote('a\nb'), "'a\\x0ab'");
    assert.equal(RawWorkerText.of('x'.repeat(3000))!.escaped().length, 2001, 'cut at MAX_TEXT');
    assert.equal(RawWorkerText.of(42), null);
  });

  it('does not compile into a log call unescaped (checked by the build)', () => {
    const lines: string[] = [];
    const log = { warning: (m: string) => lines.push(m) } as unknown as ErrorLog;
    const forwarded: unknown[] = [];
    const master = { forward: (e: unknown) => forwarded.push(e) } as unknown as MasterErrorLog;
    const raw = RawWorkerText.of(FORGED)!;
    // @ts-expect-error raw worker text is no string: it cannot be a log line
    log.warning(raw);
    // @ts-expect-error nor be used where a string is expected
    const s: string = raw;
    // @ts-expect-error a worker's entry takes escaped text only, never a plain string
    master.forward({ level: 'error', message: FORGED, pid: 1 });
    // @ts-expect-error nor raw text
    master.forward({ level: 'error', message: raw, pid: 1 });
    // @ts-expect-error a plain string is not WorkerText: only the escaper makes it
    const w: WorkerText = FORGED;
    master.forward({ level: 'error', message: raw.escaped(), pid: 1 });
    log.warning(`Worker 1: ${raw.quoted()}`);
    assert.equal(typeof s + typeof w, 'objectstring');
    assert.equal(forwarded.length, 3);
    assert.deepEqual(lines.slice(1), [`Worker 1: '${escapeText(FORGED)}'`], 'whatever compiles is escaped');
  });
});
