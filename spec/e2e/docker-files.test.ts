// The Dockerfiles under config/docker/, checked without a Docker engine: their
// instructions are parsed (multi-stage, an unprivileged user, node itself as
// PID 1, a HEALTHCHECK that does not depend on CMD), and the image's run is
// replayed: tsgund started with the image's environment and CMD flags, and
// the HEALTHCHECK's own command run against it, healthy then not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseEnvArgs } from '../../lib/cli/args.js';
import { parseBind } from '../../lib/listeners/address.js';
import { HELLO, ROOT, cleanup, freePort, run, waitFor } from '../support/harness.js';

after(() => cleanup());

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
