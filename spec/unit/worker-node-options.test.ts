// The workers' Node options (workerNodeOptions) as exec arguments, and the
// OpenTelemetry resource each worker gets: the master's part and the pid the
// worker adds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workerExecArgv } from '../../lib/config/worker-node-options.js';
import { applyInstanceId, workerResourceEnv } from '../../lib/protocol/otel-resource.js';

describe('workerExecArgv', () => {
  it('makes each option one exec argument, its value after = or a space', () => {
    assert.deepEqual(
      workerExecArgv([
        '--import ./otel.mjs',
        '--require=./agent.cjs',
        ' --enable-source-maps ',
        '--max-old-space-size=512',
      ]),
      ['--import=./otel.mjs', '--require=./agent.cjs', '--enable-source-maps', '--max-old-space-size=512'],
    );
  });

  it('refuses, in one line naming the setting, what is not one option Node allows per process', () => {
    for (const bad of ['./otel.mjs', '-r ./x.cjs', '--eval=1', '--import', '--no-such-option'])
      assert.throws(
        () => workerExecArgv([bad]),
        (err: Error) =>
          err.message.startsWith(`setting 'workerNodeOptions' has ${JSON.stringify(bad)}: `) &&
          !err.message.includes('\n'),
        bad,
      );
  });
});

describe('the OpenTelemetry resource of a worker', () => {
  it("keeps the user's attributes, replaces the ones tsgund sets, and adds the pid in the worker", () => {
    const env: NodeJS.ProcessEnv = workerResourceEnv(
      'deployment.environment=prod, service.instance.id=mine,tsgund.slot=9,team=a%2Cb',
      'shop api',
      3,
      7,
    );
    assert.equal(
      env.OTEL_RESOURCE_ATTRIBUTES,
      'deployment.environment=prod,team=a%2Cb,tsgund.slot=3,tsgund.generation=7',
    );
    applyInstanceId(env, 4242);
    assert.equal(
      env.OTEL_RESOURCE_ATTRIBUTES,
      'deployment.environment=prod,team=a%2Cb,tsgund.slot=3,tsgund.generation=7,service.instance.id=shop%20api-3-4242',
    );
    applyInstanceId(env, 4242);
    assert.equal(String(env.OTEL_RESOURCE_ATTRIBUTES).split('service.instance.id').length, 2, 'added once');
    assert.equal(env.TSGUND_OTEL_INSTANCE, undefined);
  });

  it('starts from nothing when the user sets no attributes', () => {
    const env: NodeJS.ProcessEnv = workerResourceEnv(undefined, 'tsgund', 0, 1);
    applyInstanceId(env, 5);
    assert.equal(env.OTEL_RESOURCE_ATTRIBUTES, 'tsgund.slot=0,tsgund.generation=1,service.instance.id=tsgund-0-5');
  });
});
