import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEntry, fromWorker } from '../../lib/log/error-line.js';
import { LineSplitter, MAX_PIPE_LINE, parsePipeLine } from '../../lib/log/error-pipe.js';

describe("a worker's error-log pipe, read by the master", () => {
  it('a well-formed line is an entry with its level, message, stack and time', () => {
    const line = JSON.stringify({
      time: '2026-01-02T03:04:05.678Z',
      pid: 1,
      level: 'warning',
      msg: 'hi',
      stack: 'at x',
    });
    assert.deepEqual(parsePipeLine(line), {
      level: 'warning',
      message: 'hi',
      stack: ['at x'],
      time: new Date('2026-01-02T03:04:05.678Z'),
    });
  });

  it('never takes the pid from the line (the master knows whose pipe it is)', () => {
    assert.equal('pid' in parsePipeLine(JSON.stringify({ level: 'info', msg: 'x', pid: 1 })), false);
  });

  it('anything else is an error line holding the raw text, never a throw', () => {
    for (const raw of [
      'plain text',
      '{"level":"info"',
      '[1,2]',
      'null',
      '"str"',
      JSON.stringify({ level: 'fatal', msg: 'x' }),
      JSON.stringify({ level: 'toString', msg: 'x' }),
      JSON.stringify({ level: 'info', msg: 5 }),
      JSON.stringify({ level: 'info', msg: 'x', stack: {} }),
    ]) {
      assert.deepEqual(parsePipeLine(raw), { level: 'error', message: raw }, raw);
    }
    assert.equal(parsePipeLine(JSON.stringify({ level: 'info', msg: 'x', time: 'soon' })).time, undefined);
  });

  it('cuts a long message and stack', () => {
    const long = 'x'.repeat(MAX_PIPE_LINE * 2);
    const entry = parsePipeLine(JSON.stringify({ level: 'info', msg: long, stack: long }));
    assert.equal(entry.message, `${'x'.repeat(MAX_PIPE_LINE)}…`);
    assert.equal(entry.stack![0], `${'x'.repeat(MAX_PIPE_LINE)}…`);
  });

  it('escapes the text: no line, control byte or terminal sequence of the worker reaches the log raw', () => {
    const forged = 'x\n[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\r\x1b[2J\x00\x07';
    const entry = parsePipeLine(JSON.stringify({ level: 'critical', msg: forged, stack: `Error: e\n${forged}` }));
    assert.equal(entry.message, 'x\\x0a[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\\x0d\\x1b[2J\\x00\\x07');
    assert.deepEqual(entry.stack, [
      'Error: e',
      'x',
      '[2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\\x0d\\x1b[2J\\x00\\x07',
    ]);
    // in the text format, a stack line that does not start with a space is indented: it cannot pass for a log line
    const text = formatEntry('text', fromWorker({ ...entry, pid: 7, time: new Date(0) }));
    assert.deepEqual(text.split('\n').slice(1), [
      '  Error: e',
      '  x',
      '  [2020-01-01 00:00:00 +0000] [1] [CRITICAL] FORGED\\x0d\\x1b[2J\\x00\\x07',
    ]);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be there
    assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f]/);
    // a line that is not an entry is escaped too
    assert.equal(parsePipeLine('raw\x1b[2J').message, 'raw\\x1b[2J');
  });
});

describe('LineSplitter', () => {
  it('joins lines split across chunks and keeps a last line without newline for the end', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('a\nb'), ['a']);
    assert.deepEqual(s.push('c\n\nd'), ['bc', '']);
    assert.deepEqual(s.end(), ['d']);
    assert.deepEqual(s.end(), []);
  });

  it('bounds a line without newline: its first MAX_PIPE_LINE characters, the rest dropped', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('y'.repeat(MAX_PIPE_LINE + 10)), ['y'.repeat(MAX_PIPE_LINE)]);
    assert.deepEqual(s.push('y'.repeat(MAX_PIPE_LINE + 10)), []);
    assert.deepEqual(s.push('yy\nnext\n'), ['next']);
    assert.deepEqual(s.end(), []);
  });
});
