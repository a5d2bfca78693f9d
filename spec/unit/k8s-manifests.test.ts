// Every manifest under config/k8s/ is valid against the Kubernetes API schema
// (kubernetes-models), and agrees with the tsgund settings its container runs
// with, as tsgund itself resolves them from the container's args and the
// image's environment (config/docker/app.Dockerfile): ports,
// probes, the shutdown budget.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { parseEnvArgs } from '../../lib/cli/args.js';
import type { Settings } from '../../lib/config/types.js';
import { resolveSettings } from '../../lib/config/resolve.js';
import { parseBind } from '../../lib/listeners/address.js';
import { ROOT, cleanup, tempDir } from '../support/harness.js';

const DIR = join(ROOT, 'config/k8s');
const docs = readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], file);
      return { file, doc: d.toJS() as { apiVersion: string; kind: string } };
    }),
  );
const ofKind = <T>(kind: string): T[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc as T);

/** The model class of an apiVersion and kind: `apps/v1` Deployment is kubernetes-models/apps/v1's Deployment. */
async function modelOf(apiVersion: string, kind: string) {
  const mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
  const Model = mod[kind] as (new (data: unknown) => { validate(): void }) | undefined;
  assert.ok(Model, `kubernetes-models has no ${apiVersion} ${kind}`);
  return Model;
}

const tcpPort = (addr: string | undefined, setting: string): number => {
  assert.ok(addr, `${setting} is set`);
  const a = parseBind(addr, setting);
  assert.equal(a.kind, 'tcp', setting);
  return (a as { port: number }).port;
};

/** The image's TSGUND_CMD_ARGS (config/docker/app.Dockerfile), its ARGs' defaults filled in. */
function imageCmdArgs(): string {
  const text = readFileSync(join(ROOT, 'config/docker/app.Dockerfile'), 'utf8');
  const args = new Map([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const env = /^ENV TSGUND_CMD_ARGS="(.*)"$/m.exec(text)?.[1];
  assert.ok(env, 'the image sets TSGUND_CMD_ARGS');
  return env.replace(/\$\{(\w+)\}/g, (m, name: string) => args.get(name) ?? m);
}

describe('config/k8s', () => {
  it('has a Deployment and a Service', () => {
    assert.equal(ofKind('Deployment').length, 1);
    assert.equal(ofKind('Service').length, 1);
  });

  for (const { file, doc } of docs) {
    it(`${file}: ${doc.kind} is valid against the Kubernetes API schema`, async () => {
      const Model = await modelOf(doc.apiVersion, doc.kind);
      new Model(doc).validate();
    });
  }

  describe('the Deployment agrees with the tsgund settings of its container', () => {
    const dep = ofKind<IDeployment>('Deployment')[0]!;
    const pod = dep.spec!.template.spec!;
    const app = pod.containers[0] as IContainer;
    const dirs: string[] = [];
    let settings: Settings;
    before(async () => {
      // as tsgund resolves them (defaults included) from the args given to the image's `start`
      const cwd = tempDir();
      dirs.push(cwd);
      // -w max is a count the command line works out (usable-cpus.ts) before the settings see it
      const args = (app.args ?? []).filter((a) => a !== '--workers=max');
      const cli = parseEnvArgs(args.map((a) => JSON.stringify(a)).join(' '));
      assert.ok(cli, 'the container has args');
      settings = (await resolveSettings(cli, parseEnvArgs(imageCmdArgs()), cwd)).settings;
    });
    after(() => cleanup(dirs));

    const portOf = (ref: number | string | undefined): number | undefined =>
      typeof ref === 'number' ? ref : app.ports?.find((p) => p.name === ref)?.containerPort;

    it('the container ports are the bind and the stats bind', () => {
      const ports = (app.ports ?? []).map((p) => p.containerPort).sort();
      const binds = settings.bind.map((b) => tcpPort(b, 'bind'));
      assert.deepEqual(ports, [...binds, tcpPort(settings.statsBind ?? undefined, 'statsBind')].sort());
    });

    it('probe /readyz and /healthz on the stats port; startup covers bootTimeout', () => {
      const stats = tcpPort(settings.statsBind ?? undefined, 'statsBind');
      const { startupProbe, readinessProbe, livenessProbe } = app;
      assert.equal(readinessProbe?.httpGet?.path, '/readyz');
      assert.equal(livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(startupProbe?.httpGet?.path, '/healthz');
      for (const probe of [startupProbe, readinessProbe, livenessProbe])
        assert.equal(portOf(probe?.httpGet?.port), stats, 'the stats port');
      const startupSeconds = (startupProbe!.periodSeconds ?? 10) * (startupProbe!.failureThreshold ?? 3);
      assert.ok(startupSeconds >= settings.bootTimeout, `startup probe ${startupSeconds} s < bootTimeout`);
    });

    it('terminationGracePeriodSeconds covers the preStop sleep and gracefulTimeout', () => {
      const command = app.lifecycle?.preStop?.exec?.command ?? [];
      assert.equal(command[0], 'sleep');
      const preStop = Number(command[1]);
      assert.ok(preStop > 0, 'a preStop sleep, so endpoints drop the pod before TERM');
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      assert.ok(
        grace >= preStop + settings.gracefulTimeout,
        `terminationGracePeriodSeconds ${grace} < preStop ${preStop} + gracefulTimeout ${settings.gracefulTimeout}`,
      );
    });

    it('the selector matches the pod labels, and the Service reaches named container ports', () => {
      const labels = dep.spec!.template.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(dep.spec!.selector.matchLabels ?? {})) assert.equal(labels[k], v);
      const svc = ofKind<IService>('Service')[0]!;
      for (const [k, v] of Object.entries(svc.spec?.selector ?? {}))
        assert.equal(labels[k], v, `Service selector ${k}`);
      for (const p of svc.spec?.ports ?? [])
        assert.ok(portOf(p.targetPort), `Service port ${p.name} targets a container port`);
    });
  });
});
