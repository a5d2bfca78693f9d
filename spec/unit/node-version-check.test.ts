import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ENGINES_NODE, belowFloor, newerNodeHint } from '../../lib/cli/node-version-check.js';
import { ROOT } from '../support/harness.js';

describe('the CLI’s Node version check', () => {
  it("keeps the floor equal to package.json's engines.node", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(ENGINES_NODE, pkg.engines.node);
  });

  it('compares major, minor and patch against a >= floor', () => {
    assert.equal(belowFloor('v20.20.2', '>=22.18'), true);
    assert.equal(belowFloor('v22.17.9', '>=22.18'), true);
    assert.equal(belowFloor('v22.18.0', '>=22.18'), false);
    assert.equal(belowFloor('v22.19.0', '>=22.18'), false);
    assert.equal(belowFloor('v24.0.0', '>=22.18'), false);
    assert.equal(belowFloor('v22.18.0', '>=22.18.1'), true);
    assert.equal(belowFloor('23.0.0', '>=22'), false);
  });

  it('lets the run go on when it cannot read the range or the version', () => {
    assert.equal(belowFloor('v20.0.0', '^22.18 || >=24'), false);
    assert.equal(belowFloor('nightly', '>=22.18'), false);
  });

  it('runs on this Node without a word', () => {
    assert.equal(belowFloor(process.version, ENGINES_NODE), false);
  });

  it('under the init script, the hint names NODE= in its defaults file', () => {
    assert.equal(newerNodeHint({}), 'run it with a newer node binary');
    assert.match(
      newerNodeHint({ TSGUND_INITD_DEFAULTS: '/etc/default/tsgund' }),
      /^set NODE= in \/etc\/default\/tsgund to a newer node binary/,
    );
  });
});
