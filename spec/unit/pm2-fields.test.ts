import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fromEcosystem } from '../../lib/cli/ecosystem.js';
import { PM2_FIELDS, pm2Field, pm2FieldsMarkdown } from '../../lib/cli/pm2-fields.js';
import { ROOT, tempDir } from '../support/harness.js';

const pm2 = join(ROOT, 'node_modules/pm2');
const schema = JSON.parse(readFileSync(join(pm2, 'lib/API/schema.json'), 'utf8')) as Record<string, unknown>;
const { version } = JSON.parse(readFileSync(join(pm2, 'package.json'), 'utf8')) as { version: string };

describe("the table of PM2's fields", () => {
  it('has a row for every key of the pinned pm2 schema', () => {
    const missing = Object.keys(schema).filter((key) => !PM2_FIELDS.some((f) => f.field === key));
    assert.deepEqual(missing, [], `add a row to lib/cli/pm2-fields.ts for ${missing.join(', ')}`);
    assert.equal(new Set(PM2_FIELDS.map((f) => f.field)).size, PM2_FIELDS.length, 'one row per field');
    assert.equal(pm2Field('env_production')?.verdict, 'mapped');
  });

  it('docs/pm2-fields.md is generated from it (npm run docs:pm2-fields)', () => {
    assert.equal(readFileSync(join(ROOT, 'docs/pm2-fields.md'), 'utf8'), pm2FieldsMarkdown(version));
  });

  it('a warned field is one warning line; a refused one fails the start in one line', () => {
    const eco = fromEcosystem(
      { apps: [{ script: 'a.js', cron_restart: '* * * * *', time: true }] },
      '/srv/eco.config.js',
    );
    assert.deepEqual(eco.warnings, [
      "eco.config.js: PM2 field 'cron_restart' ignored: dropped: run `tsgund reload NAME` from cron or a systemd timer",
    ]);
    assert.throws(() => fromEcosystem({ apps: [{ script: 'a.py', interpreter: 'python3' }] }, '/srv/eco.config.js'), {
      message: 'eco.config.js: interpreter is "python3": tsgund runs Node apps only (node)',
    });
  });

  it('out_file, error_file and log_file capture the app output into one file, and say which is not written', () => {
    const one = fromEcosystem({ apps: [{ script: 'a.js', out_file: 'out.log' }] }, '/srv/eco.config.js');
    assert.deepEqual([one.values.errorlog, one.values.captureOutput], ['/srv/out.log', true]);
    const two = fromEcosystem(
      { apps: [{ script: 'a.js', out_file: 'o.log', error_file: 'e.log' }] },
      '/srv/e.config.js',
    );
    assert.equal(two.values.errorlog, '/srv/e.log');
    assert.match(
      two.warnings[0]!,
      /out_file \/srv\/o\.log is not written: tsgund writes the app's output to one file, \/srv\/e\.log/,
    );
  });

  it("script: 'npm', args: 'start' serves the FILE of a `node FILE` start script, and says to write it", () => {
    const dir = tempDir();
    const pkg = (start: string) => writeFileSync(join(dir, 'package.json'), JSON.stringify({ scripts: { start } }));
    pkg('node --enable-source-maps server.js');
    const eco = fromEcosystem({ apps: [{ name: 'api', script: 'npm', args: 'start' }] }, join(dir, 'eco.config.js'));
    assert.equal(eco.app, join(dir, 'server.js'));
    assert.match(
      eco.warnings[0]!,
      /script 'npm start' runs 'node --enable-source-maps server.js': tsgund serves server.js directly; write script: 'server.js'/,
    );
    pkg('next start');
    assert.throws(
      () => fromEcosystem({ apps: [{ script: 'npm', args: 'start' }] }, join(dir, 'eco.config.js')),
      /cannot run a package script \(start script: "next start"\)/,
    );
  });

  it('--only NAME picks an app; several apps without it is an error naming them', () => {
    const apps = { apps: [{ name: 'api', script: 'api.js' }, { script: 'worker.js' }] };
    assert.equal(fromEcosystem(apps, '/srv/eco.config.js', null, 'worker').app, '/srv/worker.js');
    assert.throws(() => fromEcosystem(apps, '/srv/eco.config.js'), /lists 2 apps \(api, worker\)/);
    assert.throws(
      () => fromEcosystem(apps, '/srv/eco.config.js', null, 'web'),
      /has no app named 'web' \(it has api, worker\)/,
    );
  });
});
