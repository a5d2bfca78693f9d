// Sticky placement: --sticky ip, where the kernel places each connection by
// the client's address on per-slot SO_REUSEPORT sockets, and --sticky
// forwarded, where the master accepts and hands each connection to the
// worker of the slot that X-Forwarded-For (or the address) hashes to.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../support/exec.js';
import { chooseSlot } from '../../lib/master/placement/sticky-placement.js';
import { FIXTURES, cleanup, freePort, request, startServer, tempDir, waitFor, workersOf } from '../support/harness.js';
import { connectionsOn } from '../support/listening.js';

const dirs: string[] = [];
after(() => cleanup(dirs));

// answers "<pid> <bytes> <sha1>" for the request body
const ECHO = join(FIXTURES, 'apps/body-digest.js');
const INSTANCE = join(FIXTURES, 'instance-app.js');
const BODY = randomBytes(300_000);
const DIGEST = createHash('sha1').update(BODY).digest('hex');
const ADDRESSES = Array.from({ length: 12 }, (_, i) => `127.0.0.${20 + i}`);

/** The pid that answers a new connection from `localAddress`. */
async function pidFor(url: string, localAddress: string): Promise<number> {
  return Number((await request(`${url}/pid`, { localAddress })).body);
}

/** Each address's worker, asked three times on new connections, which must agree. */
async function placement(url: string, addresses = ADDRESSES): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const address of addresses) {
    const pids = new Set([await pidFor(url, address), await pidFor(url, address), await pidFor(url, address)]);
    assert.equal(pids.size, 1, `connections from ${address} reached ${[...pids]}`);
    out.set(address, [...pids][0]!);
  }
  return out;
}

describe('sticky placement', () => {
  it('ip: the kernel sends each client address to one worker, the master accepts nothing; a replaced worker gets its slot clients back', async () => {
    const { proc, port, url } = await startServer(['-w', '3', '--sticky', 'ip']);
    assert.match(proc.output, /loopback bind; every client behind a local proxy has the proxy's address/);
    const before = await placement(url);
    const used = new Set(before.values());
    assert.ok(used.size >= 2, `${ADDRESSES.length} addresses spread over ${used.size} worker(s)`);
    // an idle connection reaches a worker without passing through the master
    const idle = net.connect(port, '127.0.0.1');
    await waitFor(() => connectionsOn(workersOf(proc.pid), port) === 1, 'a worker to hold the connection', 5000);
    assert.equal(connectionsOn([proc.pid], port), 0, 'the master holds no connection');
    idle.destroy();
    const [victimAddress, victim] = [...before][0]!;
    const workers = workersOf(proc.pid);
    process.kill(victim, 'SIGKILL');
    // once the replacement is ready, the victim's clients reach it
    const replacement = await waitFor(
      async () => {
        const pid = await pidFor(url, victimAddress);
        return !workers.includes(pid) && pid;
      },
      'the replacement worker to serve its slot',
      20_000,
    );
    const afterKill = await placement(url);
    for (const [address, pid] of before) {
      assert.equal(afterKill.get(address), pid === victim ? replacement : pid, `clients from ${address}`);
    }
  });

  it('ip: 48 addresses land on at least 3 of 4 workers; a HUP keeps the mapping by slot, TTIN changes it', async () => {
    const addresses = Array.from({ length: 48 }, (_, i) => `127.0.1.${i + 1}`);
    const dir = tempDir();
    dirs.push(dir);
    const env = { ...process.env, INSTANCE_DIR: dir };
    // the app answers with its slot (NODE_APP_INSTANCE)
    const { proc, url } = await startServer(['-w', '4', '--sticky', 'ip'], { app: INSTANCE, env });
    const slots = async () => {
      const out = new Map<string, string>();
      for (const a of addresses) out.set(a, (await request(url, { localAddress: a })).body);
      return out;
    };
    const before = await slots();
    assert.ok(new Set(before.values()).size >= 3, `4 workers, used ${new Set(before.values()).size}`);
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 20_000);
    assert.deepEqual(await slots(), before);
    proc.kill('SIGTTIN');
    await proc.line(/Sticky placement on 127\.0\.0\.1:\d+: 4 -> 5 slots \(most clients move\)/, 10_000);
  });

  it('forwarded: places connections from a trusted proxy by X-Forwarded-For, with the request intact; others by their address', async () => {
    const { url } = await startServer(['-w', '3', '--sticky', 'forwarded'], { app: ECHO });
    const post = async (forwardedFor: string, localAddress = '127.0.0.1') => {
      const body = await new Promise<string>((resolve, reject) => {
        const req = http.request(
          url,
          { method: 'POST', agent: false, localAddress, headers: { 'x-forwarded-for': forwardedFor } },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (d: string) => (text += d));
            res.on('end', () => resolve(text)).on('error', reject);
          },
        );
        req.on('error', reject).end(BODY);
      });
      const [pid, length, digest] = body.trim().split(' ');
      assert.deepEqual([length, digest], [String(BODY.length), DIGEST], 'the body arrives whole');
      return Number(pid);
    };
    // 127.0.0.1 is trusted by default (forwardedAllowIps)
    const clients = Array.from({ length: 8 }, (_, i) => `203.0.113.${i + 1}`);
    const byClient = new Map<string, number>();
    for (const client of clients) byClient.set(client, await post(client));
    for (const client of clients) assert.equal(await post(`${client}, 10.0.0.1`), byClient.get(client), client);
    assert.ok(new Set(byClient.values()).size >= 2, 'clients spread over workers');
    // from an untrusted peer the header places nothing: the peer's address does
    const untrusted = await Promise.all(clients.map((c) => post(c, '127.0.0.40')));
    assert.equal(new Set(untrusted).size, 1);
  });

  it("serves an app's own listen(), whose callback gets the bind's address; headersTimeout applies", async () => {
    const own = await startServer(['-w', '2', '--sticky', 'forwarded'], {
      app: join(FIXTURES, 'apps/listen-address.js'),
    });
    assert.equal((await request(own.url)).body, `port ${own.port}\n`);
    // a client that never finishes its headers gets 408 from the worker, as without sticky placement
    // (from 127.0.0.1, a trusted proxy: the master first waits a second for the head itself)
    const { port } = await startServer(['-w', '2', '--sticky', 'forwarded', '--headers-timeout', '1']);
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: a\r\n'));
      let text = '';
      c.setEncoding('utf8').on('data', (d: string) => (text += d));
      c.on('close', () => resolve(text)).on('error', reject);
      setTimeout(() => reject(new Error(`no answer in 15 s: ${JSON.stringify(text)}`)), 15_000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  it('forwarded: is fixed at start: a HUP that turns it off warns, and placement stays sticky', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const config = join(dir, 'tsgund.config.json');
    writeFileSync(config, JSON.stringify({ workers: 3, sticky: 'forwarded' }));
    const { proc, url } = await startServer(['-c', config]);
    writeFileSync(config, JSON.stringify({ workers: 3, sticky: 'none' }));
    proc.kill('SIGHUP');
    await proc.line(/Reloaded: generation 2/, 20_000);
    assert.match(proc.output, /setting 'sticky' takes effect at start; it stays "forwarded" until a restart or USR2/);
    const placed = await placement(url);
    assert.ok(new Set(placed.values()).size >= 2);
  });

  it('forwarded: a worker that never acknowledges a hand-off stalls only its own clients, fails /readyz, and is replaced', async () => {
    const statsPort = await freePort();
    const app = join(FIXTURES, 'apps/no-handle-ack.cjs');
    const { proc, port, url } = await startServer(
      ['-w', '2', '--sticky', 'forwarded', '--stats-bind', `127.0.0.1:${statsPort}`],
      { app },
    );
    // untrusted peers (forwardedAllowIps is 127.0.0.1): placed by their address, slot 0 is the one that never acknowledges
    const sources = Array.from({ length: 200 }, (_, i) => `127.0.3.${i + 1}`);
    const [toHung, toOther] = [0, 1].map((slot) => sources.filter((a) => chooseSlot(a, [0, 1]) === slot));
    const stalled = Array.from({ length: 70 }, (_, i) =>
      net.connect({ port, host: '127.0.0.1', localAddress: toHung[i % toHung.length] }),
    );
    for (const c of stalled) c.on('error', () => {});
    const readyz = `http://127.0.0.1:${statsPort}/readyz`;
    await waitFor(async () => (await request(readyz)).status === 503, '/readyz to fail', 5000);
    assert.match(
      (await request(readyz)).body,
      /cannot place connections: a worker has 64 connection\(s\) unacknowledged/,
    );
    for (const localAddress of toOther!.slice(0, 5)) {
      const t0 = performance.now();
      assert.equal((await request(url, { localAddress })).body, '1');
      assert.ok(performance.now() - t0 < 1000, `answered in ${performance.now() - t0} ms`);
    }
    await proc.line(
      /ERROR\] sticky placement: worker \d+ acknowledged no connection for 3 s \(\d+ waiting\); replacing it/,
      10_000,
    );
    await waitFor(() => proc.count(/Booting worker with pid/) === 3, 'a replacement worker', 10_000);
    await waitFor(async () => (await request(readyz)).status === 200, '/readyz to pass again', 10_000);
    for (const c of stalled) c.destroy();
  });

  it('refuses forwarded with reusePort or a unix bind, and ip without the addon, in one line', async () => {
    const both = await cli(['check-config', 'examples/hello.js', '--sticky', 'forwarded', '--reuse-port']);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /^tsgund: .*'sticky' is "forwarded" and 'reusePort' is true.*turn one of them off\n$/);
    const unix = await cli(['check-config', 'examples/hello.js', '--sticky', 'forwarded', '-b', 'unix:sticky.sock']);
    assert.equal(unix.code, 1);
    assert.match(unix.stderr, /^tsgund: .*'sticky' is "forwarded", but bind "unix:sticky.sock" is a unix socket.*\n$/);
    const bad = await cli(['check-config', 'examples/hello.js', '--sticky', 'cookie']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tsgund: .*--sticky.*'cookie' is invalid. Allowed choices are none, ip, forwarded.\n$/);
    const empty = tempDir();
    dirs.push(empty);
    // node-gyp-build looks for the addon in $TSGUND_REAPER_PREBUILD instead of native/reaper
    const noAddon = await cli(['start', 'examples/hello.js', '--sticky', 'ip', '-b', '127.0.0.1:0'], {
      env: { ...process.env, TSGUND_REAPER_PREBUILD: empty },
    });
    assert.notEqual(noAddon.code, 0);
    assert.match(
      noAddon.stderr,
      /^tsgund: setting 'sticky' is "ip", but placement by the kernel needs tsgund's native addon: .*--sticky forwarded\n$/m,
    );
  });
});
