import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
      stack: 'at x',
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
    assert.equal(entry.message.length, MAX_PIPE_LINE);
    assert.equal(entry.stack!.length, MAX_PIPE_LINE);
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
