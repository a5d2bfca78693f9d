import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { Follower, LogReadError, lastLines, openLog, tailOf } from '../../lib/log/tail.js';
import { logScratch } from '../support/log-files.js';

const { freshPath } = logScratch('tail');

const reader = (text: string) => {
  const buf = Buffer.from(text);
  return (position: number, length: number) => buf.subarray(position, position + length);
};

/** A Follower of `file` that collects what it prints and notes; `now` is the injected clock. */
function follow(file: string) {
  const printed: string[] = [];
  const notes: string[] = [];
  const f = new Follower(
    file,
    openLog(file),
    (_path, lines) => printed.push(...lines),
    (m) => notes.push(m),
  );
  return { f, printed, notes };
}

describe('lastLines', () => {
  it('returns the last n lines, across chunk boundaries, with or without a final newline', () => {
    const text = 'one\ntwo\nthree\nfour\n';
    for (const chunk of [1, 3, 5, 64]) {
      assert.deepEqual(lastLines(reader(text), text.length, 2, chunk), ['three', 'four'], `chunk ${chunk}`);
      assert.deepEqual(lastLines(reader(text), text.length, 10, chunk), ['one', 'two', 'three', 'four']);
    }
    assert.deepEqual(lastLines(reader('a\nb'), 3, 1, 1), ['b']);
    assert.deepEqual(lastLines(reader(text), text.length, 0), []);
    assert.deepEqual(lastLines(reader(''), 0, 5), []);
  });

  it('reads only the chunks the lines need', () => {
    const text = `${'x'.repeat(1000)}\nlast\n`;
    let bytes = 0;
    const read = reader(text);
    const counted = (p: number, l: number) => {
      bytes += l;
      return read(p, l);
    };
    assert.deepEqual(lastLines(counted, text.length, 1, 8), ['last']);
    assert.ok(bytes <= 16, `read ${bytes} bytes for one short line`);
  });
});

describe('Follower', () => {
  it('prints whole lines as they come, and the new file after a rename-and-create rotation', () => {
    const file = freshPath();
    fs.writeFileSync(file, 'old\n');
    const { f, printed, notes } = follow(file);
    fs.appendFileSync(file, 'one\ntw');
    f.poll(0);
    assert.deepEqual(printed, ['old', 'one']);
    fs.appendFileSync(file, 'o\n');
    fs.renameSync(file, `${file}.1`);
    fs.writeFileSync(file, 'fresh\n');
    f.poll(0);
    // a writer that has not reopened yet still reaches the renamed file for a while
    fs.appendFileSync(`${file}.1`, 'late\n');
    f.poll(1000);
    assert.deepEqual(printed, ['old', 'one', 'two', 'fresh', 'late']);
    f.poll(60_000);
    fs.appendFileSync(`${file}.1`, 'too late\n');
    f.poll(60_001);
    assert.deepEqual(printed, ['old', 'one', 'two', 'fresh', 'late']);
    assert.match(notes.join('\n'), /was replaced \(rotated\)/);
    f.close();
  });

  it('starts over after a truncation, and waits for a file that is gone', () => {
    const file = freshPath();
    fs.writeFileSync(file, 'a\nb\n');
    const { f, printed, notes } = follow(file);
    f.poll(0);
    fs.truncateSync(file, 0);
    fs.appendFileSync(file, 'c\n');
    f.poll(0);
    fs.rmSync(file);
    f.poll(0);
    f.poll(0);
    fs.writeFileSync(file, 'd\n');
    f.poll(0);
    assert.deepEqual(printed, ['a', 'b', 'c', 'd']);
    assert.equal(notes.filter((n) => n.includes('is gone')).length, 1, notes.join('\n'));
    assert.match(notes.join('\n'), /was truncated/);
    f.close();
  });

  it('never reads through a symlink planted at the path', () => {
    const file = freshPath();
    const secret = freshPath();
    fs.writeFileSync(file, 'mine\n');
    fs.writeFileSync(secret, 'secret\n');
    const { f, printed, notes } = follow(file);
    fs.rmSync(file);
    fs.symlinkSync(secret, file);
    f.poll(0);
    f.poll(0);
    assert.deepEqual(printed, ['mine']);
    assert.equal(notes.filter((n) => n.includes('is a symbolic link')).length, 1, notes.join('\n'));
    assert.throws(() => openLog(file), LogReadError);
    f.close();
  });

  it('tailOf shows the last lines, and the follower goes on from the end', () => {
    const file = freshPath();
    fs.writeFileSync(file, '1\n2\n3\n');
    const opened = openLog(file);
    assert.deepEqual(tailOf(opened, 2), ['2', '3']);
    const printed: string[] = [];
    const f = new Follower(
      file,
      opened,
      (_p, l) => printed.push(...l),
      () => {},
    );
    fs.appendFileSync(file, '4\n');
    f.poll(0);
    assert.deepEqual(printed, ['4']);
    f.close();
  });
});
