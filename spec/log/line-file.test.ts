import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LineFile } from '../../lib/log/line-file.js';
import { UnsafePathError } from '../../lib/trust/pinned-path.js';
import { lines, logScratch, writeAcrossRotation } from '../support/log-files.js';

const { dir, freshPath } = logScratch('file');

describe('LineFile', () => {
  it('creates the file with mode 0640 and appends to existing content', async () => {
    const file = freshPath();
    const first = LineFile.open(file, 1);
    first.write('one\n');
    await first.close();
    assert.equal(fs.statSync(file).mode & 0o777 & ~0o640, 0);
    assert.equal(fs.statSync(file).mode & 0o600, 0o600);

    const second = LineFile.open(file, 1);
    second.write('two\n');
    await second.close();
    assert.deepEqual(lines(file), ['one', 'two']);
  });

  it('fails at construction when the file cannot be opened', () => {
    const missing = path.join(dir, 'missing-dir', 'x.log');
    assert.throws(
      () => LineFile.open(missing, 1),
      (err) => {
        assert.ok(err instanceof UnsafePathError);
        assert.equal(err.message, `${path.join(dir, 'missing-dir')} does not exist`);
        return true;
      },
    );
  });

  it('after a rename, reopen() sends new lines to a new file', async () => {
    const file = freshPath();
    const log = LineFile.open(file, 1);
    for (let i = 0; i < 100; i++) log.write(`old ${i}\n`);
    fs.renameSync(file, `${file}.1`);
    log.reopen();
    for (let i = 0; i < 50; i++) log.write(`new ${i}\n`);
    await log.close();

    assert.deepEqual(
      lines(`${file}.1`),
      Array.from({ length: 100 }, (_, i) => `old ${i}`),
    );
    assert.deepEqual(
      lines(file),
      Array.from({ length: 50 }, (_, i) => `new ${i}`),
    );
  });

  it("mode 'direct' has each line in the file when write() returns; a file is batched by default", async () => {
    const [direct, batched] = [freshPath(), freshPath()];
    const now = LineFile.open(direct, 1, { mode: 'direct' });
    const later = LineFile.open(batched, 1);
    for (let i = 0; i < 3; i++) {
      now.write(`line ${i}\n`);
      later.write(`line ${i}\n`);
      assert.deepEqual(
        lines(direct),
        Array.from({ length: i + 1 }, (_, k) => `line ${k}`),
      );
      assert.equal(fs.readFileSync(batched, 'utf8'), '');
    }
    await Promise.all([now.close(), later.close()]);
    assert.deepEqual(lines(batched), ['line 0', 'line 1', 'line 2']);
  });

  it("mode 'direct' sends new lines to the new file after a rename + reopen", async () => {
    const file = freshPath();
    const log = LineFile.open(file, 1, { mode: 'direct' });
    log.write('old\n');
    fs.renameSync(file, `${file}.1`);
    log.reopen();
    log.write('new\n');
    assert.deepEqual([lines(`${file}.1`), lines(file)], [['old'], ['new']]);
    await log.close();
  });

  it('writes 20,000 lines across a rename + reopen: each exactly once, none torn', async () => {
    const file = freshPath();
    const log = LineFile.open(file, 1, { mode: 'batched' });
    const pad = 'x'.repeat(100);
    const all = await writeAcrossRotation(file, log, (i) => log.write(`line ${i} ${pad}\n`));
    assert.equal(all.length, 20_000);
    for (const [i, line] of all.entries()) assert.equal(line, `line ${i} ${pad}`);
  });

  it('keeps writing to the old file when reopen() fails', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'gone-'));
    const file = path.join(sub, 'a.log');
    const moved = freshPath();
    const log = LineFile.open(file, 1);
    log.write('before\n');
    fs.renameSync(file, moved);
    fs.rmdirSync(sub);
    assert.throws(() => log.reopen(), UnsafePathError);
    log.write('after\n');
    await log.close();
    assert.deepEqual(lines(moved), ['before', 'after']);
  });

  it('drops writes after close()', async () => {
    const file = freshPath();
    const log = LineFile.open(file, 1);
    log.write('kept\n');
    const closed = log.close();
    log.write('dropped\n');
    await closed;
    log.reopen();
    assert.deepEqual(lines(file), ['kept']);
  });

  const WRITER_SCRIPT = `
    const { LineFile } = await import(${JSON.stringify(new URL('../../lib/log/line-file.js', import.meta.url).href)});
    const log = LineFile.open(process.argv[1], 1, { mode: 'batched' });
    const pad = 'y'.repeat(200);
    for (let i = 0; i < 5000; i++) {
      log.write(process.pid + ' ' + i + ' ' + pad + '\\n');
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await log.close();`;

  /** Runs `writers` processes appending 5,000 lines each to target; resolves to their exit codes. */
  function runWriters(target: string, writers: number): Promise<(number | null)[]> {
    return Promise.all(
      Array.from({ length: writers }, () => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER_SCRIPT, target], {
          stdio: 'inherit',
        });
        return new Promise<number | null>((resolve) => child.on('exit', resolve));
      }),
    );
  }

  function assertWhole(text: string, writers: number): void {
    assert.ok(text.endsWith('\n'));
    const next = new Map<string, number>();
    for (const line of text.slice(0, -1).split('\n')) {
      const m = /^(\d+) (\d+) y{200}$/.exec(line);
      assert.ok(m, `torn line: ${line.slice(0, 80)}`);
      const expected = next.get(m[1]) ?? 0;
      assert.equal(Number(m[2]), expected);
      next.set(m[1], expected + 1);
    }
    assert.deepEqual([...next.values()], Array(writers).fill(5000));
  }

  it('keeps lines whole when several processes append to one file', async () => {
    const file = freshPath();
    assert.deepEqual(await runWriters(file, 4), [0, 0, 0, 0]);
    assertWhole(fs.readFileSync(file, 'utf8'), 4);
  });

  it('keeps lines whole when several processes write to one pipe (like /dev/stdout)', async () => {
    const fifo = freshPath();
    execFileSync('mkfifo', [fifo]);
    // Holding a write end keeps the reader from seeing EOF between writers;
    // O_RDWR opens a FIFO without waiting for the other end.
    const holder = fs.openSync(fifo, fs.constants.O_RDWR);
    const chunks: Buffer[] = [];
    const reader = fs.createReadStream(fifo).on('data', (c) => chunks.push(c as Buffer));
    const read = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    assert.deepEqual(await runWriters(fifo, 4), [0, 0, 0, 0]);
    fs.closeSync(holder);
    await read;
    assertWhole(Buffer.concat(chunks).toString('utf8'), 4);
  });
});
