import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appArgument } from '../../lib/cli/dispatch.js';
import { ROOT } from '../support/harness.js';

const COMMANDS = ['start', 'check-config', 'status', 'logs'];
const check = (word: string) => appArgument(word, COMMANDS, ROOT);

describe('the first word of `tsgund WORD`', () => {
  it('a path or module:export is the app, whether it exists or not (start says so, exit 4)', () => {
    for (const word of ['app.js', './srv/app', 'app:handler', 'missing.mjs']) assert.doesNotThrow(() => check(word));
  });

  it('a bare word is the app only when it resolves as a package from the current directory', () => {
    assert.doesNotThrow(() => check('commander'));
  });

  it('any other word is a mistyped command: one line, the nearest command, the list', () => {
    assert.throws(() => check('lgos'), {
      message:
        "unknown command 'lgos' (did you mean 'logs'?): the commands are start, check-config, status, logs; " +
        'to serve a module of that name, run tsgund start lgos',
    });
    assert.throws(() => check('frobnicate'), /^Error: unknown command 'frobnicate': the commands are/);
  });
});
