// The Dockerfiles under config/docker/, checked without a Docker engine: their
// instructions are parsed (multi-stage, an unprivileged user, node itself as
// PID 1, a HEALTHCHECK that does not depend on CMD), and the image's run is
// replayed: tsgund started with the image's environment and CMD flags, and
// the HEALTHCHECK's own command run against it, healthy then not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseEnvArgs } from '../../lib/cli/args.js';
import { parseBind } from '../../lib/listeners/address.js';
import { parse as parseYaml } from 'yaml';
import { HELLO, ROOT, cleanup, freePort, run, tempDir, waitFor } from '../support/harness.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

interface Instruction {
  op: string;
  args: string;
}

/** Instructions in order: comments dropped, continuation lines joined. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => /^\s*([A-Za-z]+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ op: m[1]!.toUpperCase(), args: m[2]!.trim() }));
}

/** The final stage's instructions, with ARG and ENV values substituted where Docker does it. */
function finalStage(all: Instruction[]) {
  const vars = new Map<string, string>();
  const sub = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a?: string, b?: string) => vars.get(a ?? b!) ?? m);
  const froms = all.filter((i) => i.op === 'FROM');
  const start = all.lastIndexOf(froms.at(-1)!);
  const stage: Instruction[] = [];
  for (const [n, i] of all.entries()) {
    const kv = /^(\w+)(?:=("?)(.*)\2)?$/.exec(i.args);
    if ((i.op === 'ARG' || i.op === 'ENV') && kv && (i.op === 'ENV' || n < all.indexOf(froms[0]!) || n > start))
      vars.set(kv[1]!, sub(kv[3] ?? vars.get(kv[1]!) ?? ''));
    if (n > start) stage.push(['EXPOSE', 'ENV', 'USER'].includes(i.op) ? { ...i, args: sub(i.args) } : i);
  }
  return { froms, stage, env: vars };
}

const one = (stage: Instruction[], op: string): Instruction => {
  const found = stage.filter((i) => i.op === op);
  assert.equal(found.length, 1, `one ${op} in the final stage`);
  return found[0]!;
};

const execForm = (i: Instruction, op: string): string[] => {
  const json = op === 'HEALTHCHECK' ? i.args.replace(/^.*?\bCMD\s+/, '') : i.args;
  const parsed = JSON.parse(json) as unknown;
  assert.ok(Array.isArray(parsed), `${op} in exec form (JSON array): no shell between Docker and the process`);
  return parsed as string[];
};

for (const file of ['config/docker/app.Dockerfile', 'config/docker/Dockerfile']) {
  describe(file, () => {
    const all = instructions(readFileSync(join(ROOT, file), 'utf8'));
    const { froms, stage, env } = finalStage(all);

    it('is multi-stage: the runtime copies from a named build stage', () => {
      assert.ok(froms.length >= 2, 'at least two FROM');
      const names = froms.slice(0, -1).map((f) => / AS (\S+)$/i.exec(f.args)?.[1]);
      assert.ok(names.every(Boolean), 'every earlier stage is named (FROM … AS name)');
      const copies = stage.filter((i) => i.op === 'COPY' && /--from=/.test(i.args));
      assert.ok(copies.length > 0 && copies.every((c) => names.includes(/--from=(\S+)/.exec(c.args)![1])));
    });

    it('runs as an unprivileged user, with node itself as PID 1', () => {
      const user = one(stage, 'USER').args.split(':')[0]!;
      assert.ok(!['root', '0'].includes(user), `USER ${user}`);
      const entry = execForm(one(stage, 'ENTRYPOINT'), 'ENTRYPOINT');
      assert.equal(entry[0], 'node', 'node is PID 1: not a shell, npm or npx');
      assert.match(entry[1]!, /dist\/lib\/cli\/main\.js$/);
      assert.equal(entry[2], 'start');
      assert.ok(!stage.some((i) => i.op === 'CMD' && /--stats-bind/.test(i.args)), 'the stats bind is not in CMD');
    });

    it('HEALTHCHECK asks the stats listener that the environment sets up, and EXPOSE names both ports', () => {
      const check = execForm(one(stage, 'HEALTHCHECK'), 'HEALTHCHECK');
      assert.equal(check[0], 'node');
      assert.doesNotMatch(check.join(' '), /stats-bind|9100/, 'no address of its own: it reads TSGUND_STATS_PORT');
      const envArgs = parseEnvArgs(env.get('TSGUND_CMD_ARGS'));
      const stats = parseBind(String(envArgs?.values.statsBind), 'statsBind');
      assert.equal(stats.kind === 'tcp' && stats.port, Number(env.get('TSGUND_STATS_PORT')));
      const cmd = parseEnvArgs(
        execForm(one(stage, 'CMD'), 'CMD')
          .map((a) => JSON.stringify(a))
          .join(' '),
      );
      const bind = parseBind(String((cmd?.values.bind as string[] | undefined)?.[0]));
      const exposed = one(stage, 'EXPOSE').args.split(/\s+/).map(Number);
      assert.deepEqual(
        exposed.sort(),
        [bind.kind === 'tcp' ? bind.port : -1, Number(env.get('TSGUND_STATS_PORT'))].sort(),
      );
    });

    it("the HEALTHCHECK's command passes while the image's tsgund serves, and fails once it stops", async () => {
      // the image's run: its environment (the stats port moved to a free one,
      // as --build-arg would) and its CMD's flags, with the app and bind made local
      const port = await freePort();
      const statsPort = await freePort();
      const envArgs = env.get('TSGUND_CMD_ARGS')!.replaceAll(env.get('TSGUND_STATS_PORT')!, String(statsPort));
      assert.match(envArgs, /--stats-bind=0\.0\.0\.0:\d+/);
      const cmd = execForm(one(stage, 'CMD'), 'CMD').slice(1);
      const flags = cmd.filter((a, i) => !/^(-b|--bind)/.test(a) && !/^(-b|--bind)$/.test(cmd[i - 1] ?? ''));
      const imageEnv = { TSGUND_CMD_ARGS: envArgs, TSGUND_STATS_PORT: String(statsPort) };
      const proc = run(['start', HELLO, '-b', `127.0.0.1:${port}`, ...flags], { env: imageEnv });
      await proc.line(/Booted 1 worker/, 20_000);
      const check = execForm(one(stage, 'HEALTHCHECK'), 'HEALTHCHECK');
      const healthcheck = () =>
        spawnSync(process.execPath, check.slice(1), {
          env: { ...process.env, ...imageEnv },
          timeout: 20_000,
        }).status;
      await waitFor(
        () => healthcheck() === 0,
        () => `a passing HEALTHCHECK; tsgund said:\n${proc.output}`,
        20_000,
      );
      proc.kill('SIGQUIT');
      assert.deepEqual(await proc.exit, { code: 0, signal: null }, proc.output);
      assert.equal(healthcheck(), 1);
    });
  });
}

/** A command that logs how it was called (`corepack yarn --version` answers $FAKE_YARN instead). */
const FAKE = (name: string) =>
  `#!/bin/sh\nif [ "$1 $2" = "yarn --version" ]; then echo "$FAKE_YARN"; exit 0; fi\necho "${name} $*" >> "$CALLS"\n`;

describe("config/docker/app.Dockerfile's build stage installs with the lockfile's package manager", () => {
  const all = instructions(readFileSync(join(ROOT, 'config/docker/app.Dockerfile'), 'utf8'));
  const froms = all.filter((i) => i.op === 'FROM').map((f) => all.indexOf(f));
  const build = all.slice(froms[0]! + 1, froms[1]);
  const copied = build
    .find((i) => i.op === 'COPY')!
    .args.split(/\s+/)
    .slice(0, -1);
  const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
  const cases = [
    { lock: 'package-lock.json', yarn: '', install: 'npm ci', prune: 'npm prune --omit=dev' },
    {
      lock: 'pnpm-lock.yaml',
      yarn: '',
      install: 'corepack pnpm install --frozen-lockfile',
      prune: 'corepack pnpm prune --prod',
    },
    {
      lock: 'yarn.lock',
      yarn: '1.22.22',
      install: 'corepack yarn install --frozen-lockfile',
      prune: 'corepack yarn install --frozen-lockfile --production',
    },
    {
      lock: 'yarn.lock',
      yarn: '4.9.1',
      install: 'corepack yarn install --immutable',
      prune: 'corepack yarn workspaces focus --all --production',
    },
  ];
  for (const c of cases)
    it(`${c.lock}${c.yarn ? ` (yarn ${c.yarn})` : ''}: ${c.install}, the build, ${c.prune}`, () => {
      const glob = (g: string) => new RegExp(`^${g.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
      assert.ok(
        copied.some((g) => glob(g).test(c.lock)),
        `the first COPY takes ${c.lock} (it copies ${copied.join(' ')})`,
      );
      // the stage's RUNs replayed by sh in a project with that lockfile, npm and corepack faked
      const dir = tempDir();
      dirs.push(dir);
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      for (const name of ['npm', 'corepack']) {
        writeFileSync(join(bin, name), FAKE(name));
        chmodSync(join(bin, name), 0o755);
      }
      writeFileSync(join(dir, 'package.json'), '{}');
      writeFileSync(join(dir, c.lock), '');
      const env = { PATH: `${bin}:/usr/bin:/bin`, CALLS: join(dir, 'calls'), FAKE_YARN: c.yarn };
      for (const script of runs) {
        const r = spawnSync('sh', ['-c', script], { cwd: dir, env, encoding: 'utf8' });
        assert.equal(r.status, 0, `${script}\n${r.stderr}`);
      }
      assert.deepEqual(readFileSync(env.CALLS, 'utf8').trim().split('\n'), [
        c.install,
        'npm run build --if-present',
        c.prune,
        'npm cache clean --force',
      ]);
    });
});

describe('config/k8s/deployment.yaml runs the image config/docker/app.Dockerfile builds', () => {
  const { stage, env } = finalStage(instructions(readFileSync(join(ROOT, 'config/docker/app.Dockerfile'), 'utf8')));
  const text = readFileSync(join(ROOT, 'config/k8s/deployment.yaml'), 'utf8');
  interface Container {
    args: string[];
    ports: { name: string; containerPort: number }[];
    env?: { name: string }[];
    startupProbe: { httpGet: { path: string; port: string } };
    readinessProbe: { httpGet: { path: string; port: string } };
    livenessProbe: { httpGet: { path: string; port: string } };
  }
  const dep = parseYaml(text) as { spec: { template: { spec: { containers: Container[] } } } };
  const app = dep.spec.template.spec.containers[0]!;
  const cmd = execForm(one(stage, 'CMD'), 'CMD');

  it("its args are the image's CMD (the app and its flags), with the workers from the CPUs", () => {
    assert.deepEqual(
      app.args.filter((a) => !a.startsWith('--workers=')),
      cmd,
    );
    assert.ok(app.args.includes('--workers=max'), 'workers: the CPU limit (the cgroup quota), else the cores');
    assert.ok(!app.env?.some((e) => e.name === 'WEB_CONCURRENCY'), 'no WEB_CONCURRENCY for --workers to override');
    const entry = execForm(one(stage, 'ENTRYPOINT'), 'ENTRYPOINT');
    assert.ok(text.includes(JSON.stringify(entry).replaceAll(',', ', ')), 'the comment names the ENTRYPOINT');
  });

  it("its ports are the CMD's bind and the image's stats port; the probes ask the HEALTHCHECK's /healthz and /readyz there", () => {
    const bind = parseBind(
      String((parseEnvArgs(cmd.map((a) => JSON.stringify(a)).join(' '))?.values.bind as string[] | undefined)?.[0]),
    );
    const port = (name: string) => app.ports.find((p) => p.name === name)?.containerPort;
    assert.equal(port('http'), bind.kind === 'tcp' ? bind.port : -1);
    assert.equal(port('stats'), Number(env.get('TSGUND_STATS_PORT')));
    const check = execForm(one(stage, 'HEALTHCHECK'), 'HEALTHCHECK').join(' ');
    assert.match(check, /\/healthz/);
    for (const probe of [app.startupProbe, app.livenessProbe]) assert.equal(probe.httpGet.path, '/healthz');
    assert.equal(app.readinessProbe.httpGet.path, '/readyz');
    for (const probe of [app.startupProbe, app.readinessProbe, app.livenessProbe])
      assert.equal(probe.httpGet.port, 'stats');
  });
});
