import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import Transport from 'winston-transport';
import { checkTransports, logConfigProblem } from '../../lib/config/log-transports.js';
import { defaults } from '../../lib/config/resolve.js';
import { validateLayer, validateMerged } from '../../lib/config/validate.js';
import { ConfigError } from '../../lib/errors.js';
import { parseSyslogTo } from '../../lib/log/syslog-target.js';

class Plain extends Transport {
  override log(_info: unknown, next: () => void): void {
    next();
  }
}

const oneLine = (fn: () => unknown, re: RegExp): void =>
  assert.throws(
    fn,
    (err: unknown) => err instanceof ConfigError && !err.message.includes('\n') && re.test(err.message),
  );

describe('errorLogTransports and errorLogFormat in a config file', () => {
  it('take a function and a winston format', () => {
    const factory = () => [];
    const format = { transform: (info: unknown) => info };
    const out = validateLayer({ errorLogTransports: factory, errorLogFormat: format }, 'cfg', false);
    assert.equal(out.errorLogTransports, factory);
    assert.equal(out.errorLogFormat, format);
  });

  it('refuse what a JSON or YAML file can hold, in one line naming the setting', () => {
    oneLine(
      () => validateLayer({ errorLogTransports: [{ type: 'file' }] }, 'tsgund.config.json', false),
      /^tsgund\.config\.json: setting 'errorLogTransports' is an array, expected a function .* JS or TS config file$/,
    );
    oneLine(
      () => validateLayer({ errorLogFormat: 'json' }, 'cfg', false),
      /^cfg: setting 'errorLogFormat' is a string, expected a winston format/,
    );
    assert.match(logConfigProblem('errorLogFormat', { transform: 1 })!, /is an object/);
  });

  it('a misspelt key suggests the right one', () => {
    oneLine(() => validateLayer({ errorLogTransport: () => [] }, 'cfg', false), /did you mean 'errorLogTransports'/);
  });
});

describe('what the errorLogTransports function returns', () => {
  it('is an array of winston transports: ours, or another copy of winston-transport', () => {
    const duck = Object.assign(new PassThrough({ objectMode: true }), { log: () => {} });
    const list = [new Plain(), duck];
    assert.deepEqual(checkTransports(list, Transport), list);
    assert.deepEqual(checkTransports([], Transport), []);
  });

  it('anything else is a one-line error naming the setting and the bad element', () => {
    oneLine(
      () => checkTransports(new Plain(), Transport),
      /setting 'errorLogTransports': its function returned an object,/,
    );
    oneLine(() => checkTransports(undefined, Transport), /returned undefined, expected an array of winston transports/);
    oneLine(() => checkTransports([new Plain(), { log() {} }], Transport), /returned an object at index 1/);
    oneLine(() => checkTransports([new Plain(), null], Transport), /returned null at index 1/);
  });
});

describe('--log-syslog-to', () => {
  it('takes udp://, tcp:// and unix:// targets', () => {
    assert.deepEqual(parseSyslogTo('udp://localhost:514'), { protocol: 'udp4', host: 'localhost', port: 514 });
    assert.deepEqual(parseSyslogTo('udp://127.0.0.1'), { protocol: 'udp4', host: '127.0.0.1', port: 514 });
    assert.deepEqual(parseSyslogTo('tcp://log.example:6514'), { protocol: 'tcp4', host: 'log.example', port: 6514 });
    assert.deepEqual(parseSyslogTo('udp://[::1]:5140'), { protocol: 'udp6', host: '::1', port: 5140 });
    assert.deepEqual(parseSyslogTo('unix:///dev/log'), { protocol: 'unix', path: '/dev/log' });
  });

  it('anything else is the problem, which validation reports in one line naming the setting', () => {
    for (const bad of ['localhost:514', 'http://x:1', 'udp://:514', 'udp://x:0', 'udp://x:70000', 'unix://dev/log']) {
      assert.equal(typeof parseSyslogTo(bad), 'string', bad);
    }
    const settings = { ...defaults(), logSyslogTo: 'syslog.local' };
    oneLine(() => validateMerged(settings), /^setting 'logSyslogTo' is "syslog\.local": expected udp:\/\/HOST:PORT/);
  });

  it('facility is one of the syslog facilities', () => {
    oneLine(
      () => validateLayer({ logSyslogFacility: 'local9' }, 'cfg', false),
      /setting 'logSyslogFacility' is "local9"/,
    );
    assert.deepEqual(validateLayer({ logSyslogFacility: 'daemon' }, 'cfg', false), { logSyslogFacility: 'daemon' });
  });
});

describe('--log-syslog without winston-syslog installed', () => {
  it('is one line naming the setting and the package to install', async () => {
    const { createSyslogTransport } = await import('../../lib/log/syslog.js');
    const missing = Object.assign(new Error("Cannot find package 'winston-syslog'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const opts = {
      logSyslogTo: 'udp://localhost:514',
      logSyslogPrefix: null,
      logSyslogFacility: 'user',
      name: 'tsgund',
    };
    await assert.rejects(
      createSyslogTransport(opts, () => Promise.reject(missing)),
      (err: unknown) =>
        err instanceof ConfigError &&
        /^setting 'logSyslog': --log-syslog needs the package winston-syslog, which is not installed: npm install winston-syslog/.test(
          err.message,
        ),
    );
  });
});
