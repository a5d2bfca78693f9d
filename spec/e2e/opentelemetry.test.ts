// OpenTelemetry in every worker: the real SDK (@opentelemetry/sdk-node) loaded
// with --worker-node-option '--import ...' in workers that run as the real
// `nobody`, each with its own service.instance.id, across a HUP; and the
// ownership check of such a module while the master runs as root.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../support/exec.js';
import { FIXTURES, cleanup, freePort, request, run, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

const OTEL = join(FIXTURES, 'otel');
const NOBODY = 65534;

interface SpanLine {
  name: string;
  resource: Record<string, string>;
  pid: number;
  uid: number;
}

const spansIn = (file: string): SpanLine[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as SpanLine)
    : [];

/**
 * Fresh connections until both workers of a generation answered (their
 * pids). Answers from `old` are left out: right after a reload an old worker
 * may still take a connection before it closes its listener, and serves it.
 */
async function reachBoth(url: string, old = new Set<string>()): Promise<Set<string>> {
  const pids = new Set<string>();
  for (let sent = 0; pids.size < 2; sent++) {
    assert.ok(sent < 500, 'both workers answer within 500 requests');
    const pid = (await request(url + '/')).body.trim();
    if (!old.has(pid)) pids.add(pid);
  }
  return pids;
}

describe('OpenTelemetry in the workers', { skip: process.getuid?.() !== 0 && 'needs root' }, () => {
  it('gets spans from every worker, each with its own instance id, across a HUP', async () => {
    const dir = tempDir('tsgund-otel-');
    dirs.push(dir);
    chmodSync(dir, 0o755);
    const spans = join(dir, 'spans.jsonl');
    writeFileSync(spans, '');
    chownSync(spans, NOBODY, NOBODY);
    const port = await freePort();
    const args = ['start', join(OTEL, 'app.cjs'), '-w', '2', '-b', `127.0.0.1:${port}`, '-u', 'nobody', '-n', 'shop'];
    const proc = run([
      ...args,
      '--worker-node-option',
      `--import ${join(OTEL, 'tracing.mjs')}`,
      '-e',
      `SPANS_FILE=${spans}`,
      '-e',
      'OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test,service.instance.id=mine',
      '-e',
      'OTEL_SERVICE_NAME=shop-api',
    ]);
    await proc.line(/Booted 2 worker/, 20_000);
    const url = `http://127.0.0.1:${port}`;
    const first = await reachBoth(url);
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 20_000);
    const second = await reachBoth(url, first);
    const pids = new Set([...first, ...second].map(Number));
    const lines = await waitFor(() => {
      const got = spansIn(spans);
      return [...pids].every((pid) => got.some((s) => s.pid === pid)) ? got : null;
    }, 'a span from every worker');
    proc.kill('SIGQUIT');
    await proc.exit;

    for (const s of lines) {
      const r = s.resource;
      assert.equal(s.uid, NOBODY, 'the SDK loaded after the privilege drop');
      assert.equal(r['service.instance.id'], `shop-${r['tsgund.slot']}-${s.pid}`);
      assert.match(r['tsgund.slot']!, /^[01]$/);
      assert.equal(r['tsgund.generation'], first.has(String(s.pid)) ? '1' : '2');
      assert.equal(r['deployment.environment'], 'test', "the user's attributes are kept");
      assert.equal(r['service.name'], 'shop-api');
    }
    const ids = new Set(lines.map((s) => s.resource['service.instance.id']));
    assert.equal(ids.size, 4, `four workers, four instance ids: ${[...ids].join(', ')}`);
  });

  it('refuses, in one line, a module that someone other than root could have written', async () => {
    const dir = tempDir('tsgund-otel-');
    dirs.push(dir);
    chmodSync(dir, 0o755);
    const planted = join(dir, 'tracing.mjs');
    copyFileSync(join(OTEL, 'tracing.mjs'), planted);
    chownSync(planted, NOBODY, NOBODY);
    const option = ['--worker-node-option', `--import=${planted}`];
    const refused = await cli(['check-config', join(OTEL, 'app.cjs'), '-u', 'nobody', ...option]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `tsgund: refusing worker module (workerNodeOptions --import) ${planted}: it is owned by uid ${NOBODY}, not root; it would run in every worker (--insecure-config-files skips this check)`,
    );
    const bad = await cli(['check-config', join(OTEL, 'app.cjs'), '--worker-node-option', '--eval=1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tsgund: setting 'workerNodeOptions' has "--eval=1": Node does not allow --eval here;/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});
