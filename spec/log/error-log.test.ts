import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { createDirectErrorLog, type ErrorLog, type ErrorLogOptions } from '../../lib/log/error-line.js';
import { createErrorLog } from '../../lib/log/error-log.js';
import { LineFile } from '../../lib/log/line-file.js';
import { lines, logScratch, writeAcrossRotation } from '../support/log-files.js';

const { freshPath } = logScratch('error');

const TEXT_HEAD =
  /^\[(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] \[(\d+)\] \[([A-Z]+)\] (.*)$/;

// The master logs through winston, a worker writes the same lines directly: both must behave alike.
const LOGGERS: [string, (opts: ErrorLogOptions) => ErrorLog][] = [
  ['master (winston)', (opts) => createErrorLog(opts)],
  ['worker (direct)', (opts) => createDirectErrorLog(opts, LineFile.open(opts.errorlog, 2))],
];

for (const [who, create] of LOGGERS) {
  describe(`${who}: error log, text format`, () => {
    it('writes gunicorn-shaped lines at and above the level, with stacks', async () => {
      const file = freshPath();
      const log = create({ errorlog: file, loglevel: 'info', logFormat: 'text' });
      const before = Date.now();
      log.debug('hidden');
      log.info('Starting tsgund 0.1.0');
      log.warning('a warning');
      const boom = new Error('boom');
      log.error('worker failed', boom);
      log.critical('WORKER TIMEOUT (pid:42)');
      log.error('odd throw', 'just a string');
      await log.close();

      const out = lines(file);
      const heads = out.filter((l) => l.startsWith('['));
      assert.deepEqual(
        heads.map((l) => TEXT_HEAD.exec(l)?.slice(10)),
        [
          [String(process.pid), 'INFO', 'Starting tsgund 0.1.0'],
          [String(process.pid), 'WARNING', 'a warning'],
          [String(process.pid), 'ERROR', 'worker failed'],
          [String(process.pid), 'CRITICAL', 'WORKER TIMEOUT (pid:42)'],
          [String(process.pid), 'ERROR', 'odd throw'],
        ],
      );

      // The printed local time with its offset names the same instant.
      const [, y, mo, d, h, mi, s, sign, oh, om] = TEXT_HEAD.exec(heads[0])!;
      const offsetMin = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
      const utc = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) - offsetMin * 60_000;
      assert.ok(utc >= Math.floor(before / 1000) * 1000 - 1000 && utc <= Date.now(), `time ${heads[0]}`);

      const errorAt = out.indexOf(heads[2]);
      const stack = boom.stack!.split('\n');
      assert.deepEqual(out.slice(errorAt + 1, errorAt + 1 + stack.length), stack);
      assert.equal(out.at(-1), "'just a string'");
    });

    it('writes debug lines at level debug', async () => {
      const file = freshPath();
      const log = create({ errorlog: file, loglevel: 'debug', logFormat: 'text' });
      log.debug('visible');
      await log.close();
      assert.match(lines(file)[0], /\] \[DEBUG\] visible$/);
    });

    it('drops lines logged after close()', async () => {
      const file = freshPath();
      const log = create({ errorlog: file, loglevel: 'info', logFormat: 'text' });
      log.info('kept');
      const closed = log.close();
      log.info('dropped');
      await closed;
      assert.equal(lines(file).length, 1);
    });
  });

  describe(`${who}: error log, JSON format`, () => {
    it('writes one object per line', async () => {
      const file = freshPath();
      const log = create({ errorlog: file, loglevel: 'warning', logFormat: 'json' });
      log.info('hidden');
      log.warning('careful "quoted"\nsecond line');
      const err = new TypeError('bad');
      log.critical('down', err);
      await log.close();

      const out = lines(file);
      assert.equal(out.length, 2);
      const [warn, crit] = out.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(Object.keys(warn), ['time', 'pid', 'level', 'msg']);
      assert.equal(new Date(warn.time as string).toISOString(), warn.time);
      assert.deepEqual(
        { ...warn, time: 0 },
        { time: 0, pid: process.pid, level: 'warning', msg: 'careful "quoted"\nsecond line' },
      );
      assert.deepEqual(Object.keys(crit), ['time', 'pid', 'level', 'msg', 'stack']);
      assert.deepEqual(
        { ...crit, time: 0 },
        { time: 0, pid: process.pid, level: 'critical', msg: 'down', stack: err.stack },
      );
    });
  });

  describe(`${who}: error log files`, () => {
    it('reopen() after a rename moves new lines to the new file', async () => {
      const file = freshPath();
      const log = create({ errorlog: file, loglevel: 'info', logFormat: 'text' });
      for (let i = 0; i < 10; i++) log.info(`old ${i}`);
      fs.renameSync(file, `${file}.1`);
      log.reopen();
      for (let i = 0; i < 7; i++) log.info(`new ${i}`);
      await log.close();
      assert.deepEqual(
        lines(`${file}.1`).map((l) => TEXT_HEAD.exec(l)![12]),
        Array.from({ length: 10 }, (_, i) => `old ${i}`),
      );
      assert.deepEqual(
        lines(file).map((l) => TEXT_HEAD.exec(l)![12]),
        Array.from({ length: 7 }, (_, i) => `new ${i}`),
      );
    });

    it('logs 20,000 lines across a rename + reopen: each exactly once, none torn', async () => {
      const file = freshPath();
      const log = create({ errorlog: file, loglevel: 'info', logFormat: 'json' });
      const written = await writeAcrossRotation(file, log, (i) => log.info(`message ${i}`));
      const all = written.map((l) => (JSON.parse(l) as { msg: string }).msg);
      assert.deepEqual(
        all,
        Array.from({ length: 20_000 }, (_, i) => `message ${i}`),
      );
    });
  });
}

describe('error log on stderr', () => {
  const lib = (file: string) => JSON.stringify(new URL(`../../lib/log/${file}`, import.meta.url).href);
  const creators: [string, string][] = [
    ['master (winston)', `(await import(${lib('error-log.js')})).createErrorLog(opts)`],
    [
      'worker (direct)',
      `(await import(${lib('error-line.js')})).createDirectErrorLog(opts, (await import(${lib('line-file.js')})).LineFile.open('-', 2))`,
    ],
  ];
  for (const [who, create] of creators) {
    it(`${who}: keeps every line logged right before process.exit(), even through a full pipe`, () => {
      // Touching process.stderr makes Node switch the pipe to non-blocking mode;
      // 5,000 lines are more than a pipe buffer holds.
      const script = `
        const opts = { errorlog: '-', loglevel: 'info', logFormat: 'text' };
        process.stderr;
        const log = ${create};
        for (let i = 0; i < 5000; i++) log.info('line ' + i + ' ' + 'z'.repeat(60));
        log.critical('last words', new Error('boom'));
        process.exit(3);`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      assert.equal(child.status, 3);
      const out = child.stderr.split('\n');
      const infos = out.filter((l) => / \[INFO\] line \d+ z{60}$/.test(l));
      assert.equal(infos.length, 5000);
      assert.match(out.find((l) => l.includes('[CRITICAL]')) ?? '', /\[CRITICAL\] last words$/);
      assert.ok(out.includes('Error: boom'));
    });
  }
});
